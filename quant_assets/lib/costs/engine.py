"""Vectorised transaction-cost engine.

Costs are split in two stages so the RL env can charge full costs at scalar speed: per-bar
*coefficients* are computed once with numpy (:func:`cost_coefficients`), and the cost of any
trade is then a handful of multiplications (:func:`apply_costs`, or the env's scalar path that
uses the very same coefficients). Formulas and units: ``docs/cost_engine.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quant_assets.lib.costs.config import CostModelConfig

FloatArray = NDArray[np.float64]
# "No commission cap" sentinel: finite, so cap * 0 shares is 0 rather than NaN in vector code.
NO_CAP = 1e200

COMPONENTS: tuple[str, ...] = (
    "commission",
    "spread",
    "impact_sqrt",
    "impact_temporary",
    "impact_permanent",
)


@dataclass(frozen=True)
class CostCoefficients:
    """Per-bar cost coefficients; trading ``q`` shares at bar ``t`` costs (in currency):

    commission = min(max(commission_fixed + commission_per_share[t]*|q|, commission_min),
                     commission_cap_per_share[t]*|q|)        (0 when q == 0)
    spread     = half_spread[t] * |q|
    impact     = sqrt_coef[t]*|q|**1.5 + temp_coef[t]*q**2 + perm_coef[t]*q**2
    and at most ``fill_cap[t]`` shares are filled.
    """

    price: FloatArray
    commission_per_share: FloatArray  # per-share fee + bps of notional, currency/share
    commission_fixed: float  # per-trade fee
    commission_min: float
    commission_cap_per_share: (
        FloatArray  # max fraction of notional as currency/share (NO_CAP: none)
    )
    half_spread: FloatArray  # currency/share
    sqrt_coef: FloatArray  # currency/share**1.5
    temp_coef: FloatArray  # currency/share**2
    perm_coef: FloatArray  # currency/share**2
    fill_cap: FloatArray  # shares (inf: no participation cap)

    def __len__(self) -> int:
        return int(self.price.shape[0])


@dataclass(frozen=True)
class CostBreakdown:
    """Costs by component (currency, >= 0) for each requested trade, plus what was filled."""

    requested: FloatArray  # signed shares asked for
    filled: FloatArray  # signed shares executed after the participation cap
    commission: FloatArray
    spread: FloatArray
    impact_sqrt: FloatArray
    impact_temporary: FloatArray
    impact_permanent: FloatArray

    @property
    def unfilled(self) -> FloatArray:
        """Signed shares clipped by the participation cap (not executed, not charged)."""
        return self.requested - self.filled

    @property
    def total(self) -> FloatArray:
        return (
            self.commission
            + self.spread
            + self.impact_sqrt
            + self.impact_temporary
            + self.impact_permanent
        )

    def totals(self) -> dict[str, float]:
        """Summed costs by component (plus ``total``), for reports and asset metadata."""
        out = {name: float(np.sum(getattr(self, name))) for name in COMPONENTS}
        out["total"] = float(sum(out.values()))
        return out


def _as_float_array(value: ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(arr, shape).astype(np.float64, copy=True)
    except ValueError as exc:
        raise ValueError(f"{name}: shape {arr.shape} does not broadcast to {shape}") from exc


def cost_coefficients(
    config: CostModelConfig,
    price: ArrayLike,
    *,
    daily_vol: ArrayLike,
    adv: ArrayLike,
    bar_seconds: float,
    spread: ArrayLike | None = None,
    bar_volume: ArrayLike | None = None,
) -> CostCoefficients:
    """Per-bar coefficients for trades executed over one bar.

    ``price`` is the arrival (decision) price, ``spread`` the absolute quoted spread (NaN entries
    fall back to ``fixed_spread_bps``), ``daily_vol`` the daily return volatility (fraction),
    ``adv`` the average daily volume in shares, ``bar_volume`` the volume (shares) of the bar the
    order works in — the participation cap needs it.
    """
    px = np.asarray(price, dtype=np.float64).copy()
    if px.ndim != 1:
        raise ValueError(f"price must be 1-D, got shape {px.shape}")
    if not np.all(px > 0):
        raise ValueError("price must be > 0 everywhere")
    shape = px.shape
    sigma = _as_float_array(daily_vol, shape, "daily_vol")
    volume_adv = _as_float_array(adv, shape, "adv")
    if not bar_seconds > 0:
        raise ValueError(f"bar_seconds must be > 0, got {bar_seconds}")
    if np.any(sigma < 0) or np.any(np.isnan(sigma)):
        raise ValueError("daily_vol must be >= 0 and not NaN")

    commission_per_share = config.commission_per_share + config.commission_bps * 1e-4 * px
    if config.commission_max_pct_notional is None:
        cap_per_share = np.full(shape, NO_CAP)
    else:
        cap_per_share = config.commission_max_pct_notional * px

    fixed_half = 0.5 * config.fixed_spread_bps * 1e-4 * px
    if config.spread_source == "quoted" and spread is not None:
        quoted = _as_float_array(spread, shape, "spread")
        half_spread = np.where(np.isfinite(quoted) & (quoted >= 0), 0.5 * quoted, fixed_half)
    else:
        half_spread = fixed_half

    zeros = np.zeros(shape)
    sqrt_coef, temp_coef, perm_coef = zeros, zeros.copy(), zeros.copy()
    if config.impact_model != "none":
        if not np.all(volume_adv > 0):
            raise ValueError("adv must be > 0 everywhere when an impact model is enabled")
        if config.impact_model == "sqrt":
            # Y * sigma * sqrt(|q|/ADV) as a fraction of price, times price * |q|.
            sqrt_coef = config.sqrt_impact_coef * sigma * px / np.sqrt(volume_adv)
        else:
            horizon_days = bar_seconds / config.session_seconds
            # temporary: eta * sigma * |q| / (ADV * T) fraction of price on |q| shares
            temp_coef = config.ac_eta * sigma * px / (volume_adv * horizon_days)
            # permanent: the price moves gamma * sigma * |q| / ADV; the trade itself pays half
            perm_coef = 0.5 * config.ac_gamma * sigma * px / volume_adv

    if config.max_participation is None:
        fill_cap = np.full(shape, np.inf)
    else:
        if bar_volume is None:
            raise ValueError("bar_volume is required when max_participation is set")
        vol = _as_float_array(bar_volume, shape, "bar_volume")
        fill_cap = config.max_participation * np.where(np.isfinite(vol) & (vol > 0), vol, 0.0)

    return CostCoefficients(
        price=px,
        commission_per_share=np.asarray(commission_per_share, dtype=np.float64),
        commission_fixed=config.commission_per_trade,
        commission_min=config.commission_min_per_trade,
        commission_cap_per_share=np.asarray(cap_per_share, dtype=np.float64),
        half_spread=np.asarray(half_spread, dtype=np.float64),
        sqrt_coef=np.asarray(sqrt_coef, dtype=np.float64),
        temp_coef=np.asarray(temp_coef, dtype=np.float64),
        perm_coef=np.asarray(perm_coef, dtype=np.float64),
        fill_cap=fill_cap,
    )


def apply_costs(
    coeffs: CostCoefficients, shares: ArrayLike, index: ArrayLike | None = None
) -> CostBreakdown:
    """Costs of trading ``shares`` (signed) at bars ``index`` (default: one trade per bar)."""
    requested = np.asarray(shares, dtype=np.float64)
    idx = np.arange(len(coeffs)) if index is None else np.asarray(index, dtype=np.intp)
    if requested.shape != idx.shape:
        raise ValueError(f"shares shape {requested.shape} != index shape {idx.shape}")
    cap = coeffs.fill_cap[idx]
    filled = np.clip(requested, -cap, cap)
    q = np.abs(filled)
    traded = q > 0
    commission = np.maximum(
        coeffs.commission_fixed + coeffs.commission_per_share[idx] * q, coeffs.commission_min
    )
    commission = np.minimum(commission, coeffs.commission_cap_per_share[idx] * q)
    commission = np.where(traded, commission, 0.0)
    q2 = q * q
    return CostBreakdown(
        requested=requested,
        filled=filled,
        commission=commission,
        spread=coeffs.half_spread[idx] * q,
        impact_sqrt=coeffs.sqrt_coef[idx] * q * np.sqrt(q),
        impact_temporary=coeffs.temp_coef[idx] * q2,
        impact_permanent=coeffs.perm_coef[idx] * q2,
    )


def compute_costs(
    config: CostModelConfig,
    shares: ArrayLike,
    price: ArrayLike,
    *,
    daily_vol: ArrayLike,
    adv: ArrayLike,
    bar_seconds: float,
    spread: ArrayLike | None = None,
    bar_volume: ArrayLike | None = None,
) -> CostBreakdown:
    """One-call convenience: costs by component of the signed trades ``shares`` (one per bar)."""
    coeffs = cost_coefficients(
        config,
        price,
        daily_vol=daily_vol,
        adv=adv,
        bar_seconds=bar_seconds,
        spread=spread,
        bar_volume=bar_volume,
    )
    return apply_costs(coeffs, shares)
