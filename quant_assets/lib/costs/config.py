"""Cost-model configuration: one validated, frozen pydantic model shared by env, evaluation and
calibration so that every cost figure can be traced to the exact parameters that produced it.

Defaults and their sources are listed in ``docs/cost_engine.md``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

ImpactModel = Literal["none", "propagator", "sqrt", "almgren_chriss"]
SpreadSource = Literal["quoted", "fixed"]


class CostModelConfig(BaseModel):
    """Parameters of the transaction-cost engine (all money in the quote currency, e.g. USD)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Commissions. Default: Interactive Brokers "fixed" US-equity pricing
    # ($0.005/share, $1.00 minimum, capped at 1% of trade value).
    commission_per_share: float = 0.005
    commission_bps: float = 0.0  # basis points of traded notional
    commission_per_trade: float = 0.0  # flat fee per non-zero fill
    commission_min_per_trade: float = 1.0
    commission_max_pct_notional: float | None = 0.01  # cap as a fraction of notional; None = no cap

    # Spread: pay half the spread on every share crossed.
    spread_source: SpreadSource = "quoted"
    fixed_spread_bps: float = 1.0  # used when spread_source="fixed" or no quoted spread is given

    # Market impact. "propagator" (the env's stateful model, docs/cost_engine.md): square-root
    # impact on the parent order's cumulative size, split into a permanent part and a transient
    # part that decays exponentially, plus temporary impact on the parent's participation rate.
    # "sqrt" / "almgren_chriss" are per-trade static formulas (whole orders in compute_costs).
    impact_model: ImpactModel = "propagator"
    sqrt_impact_coef: float = 1.0  # Y in Y*sigma*sqrt(Q/V) (Toth et al. 2011: Y of order 1)
    permanent_fraction: float = 2.0 / 3.0  # of peak impact left after decay (Farmer et al. 2013)
    transient_half_life_s: float = 1_800.0  # decay of the transient part, seconds of clock time
    temp_eta: float = 0.142  # temporary eta*sigma*rho**beta, rho = parent participation rate
    temp_beta: float = 0.6  # Almgren et al. 2005
    ac_eta: float = 0.142  # temporary, Almgren et al. 2005 (fitted with beta=0.6; indicative)
    ac_gamma: float = 0.314  # permanent, Almgren et al. 2005

    # Liquidity: never fill more than this fraction of the bar's volume (Zipline volume_limit).
    max_participation: float | None = 0.025

    # Length of the trading day, to turn bar durations into fractions of a day (static AC model
    # only; calibration measures the calendar's session length).
    session_seconds: float = 23_400.0  # US equities regular session, 6.5 h

    # Overnight financing of held positions (annual rate on |notional|, per calendar day held
    # across a session boundary) when the market's overnight policy is "hold".
    financing_rate_annual: float = 0.05

    # Calibration floors: below these the calibration warns (recorded in its provenance).
    min_window_minutes: float = 390.0  # minutes of bars covered by the trailing window
    min_session_coverage: float = 0.8  # a session counts as full for ADV at this coverage
    min_daily_returns: int = 5  # close-to-close returns needed for daily volatility
    # ADV (units per session) used when the window has no traded volume at all (quote-only
    # feeds such as spot FX): a guess, recorded as source "fallback" with a warning, so the
    # cost_provenance check flags it. None refuses such a window instead.
    fallback_adv: float | None = 1_000_000.0

    @field_validator(
        "commission_per_share",
        "commission_bps",
        "commission_per_trade",
        "commission_min_per_trade",
        "fixed_spread_bps",
        "sqrt_impact_coef",
        "ac_eta",
        "ac_gamma",
        "temp_eta",
        "temp_beta",
        "financing_rate_annual",
        "min_window_minutes",
    )
    @classmethod
    def _non_negative(cls, value: float, info: ValidationInfo) -> float:
        if not value >= 0.0:  # also rejects NaN
            raise ValueError(f"{info.field_name} must be >= 0, got {value}")
        return value

    @field_validator("permanent_fraction")
    @classmethod
    def _fraction(cls, value: float, info: ValidationInfo) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{info.field_name} must be in [0, 1], got {value}")
        return value

    @field_validator("max_participation", "commission_max_pct_notional", "min_session_coverage")
    @classmethod
    def _unit_interval(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not 0.0 < value <= 1.0:
            raise ValueError(f"{info.field_name} must be in (0, 1], got {value}")
        return value

    @field_validator("session_seconds", "transient_half_life_s")
    @classmethod
    def _positive(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0.0:
            raise ValueError(f"{info.field_name} must be > 0, got {value}")
        return value

    def canonical_json(self) -> str:
        """Key-sorted compact JSON: the input to every version hash that includes this config."""
        return canonical_json(self.model_dump(mode="json"))

    def fingerprint(self) -> str:
        """sha256 of :meth:`canonical_json`, stable across processes and Python versions."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no whitespace and repr-exact floats, so equal inputs hash equally."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
