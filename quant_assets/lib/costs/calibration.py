"""Per-symbol calibration of cost-model inputs from bars over a trailing window.

The output carries a content ``version`` (sha256 of a canonical JSON summary of the inputs and of
the cost config) so that downstream assets (envs, evaluations) can record exactly which calibration
they used, and re-materialisations with identical inputs are recognisably identical.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict

from quant_assets.lib.costs.config import CostModelConfig, canonical_json

CALIBRATION_SCHEMA_VERSION = 1
_NS_PER_DAY = 86_400 * 1_000_000_000


class CalibratedParams(BaseModel):
    """Calibrated per-symbol inputs of the cost engine (see ``docs/cost_engine.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    median_spread_bps: float  # median quoted spread / close, in bps
    daily_vol: float  # std of intraday log returns scaled to one session (fraction)
    adv: float  # average daily volume, shares
    volume_profile: tuple[float, ...]  # share of volume per UTC time-of-day bucket, sums to 1
    profile_bucket_minutes: int
    bar_seconds: float
    n_bars: int
    n_days: int
    window_start: datetime
    window_end: datetime
    config: CostModelConfig
    version: str


def _sig(x: float) -> float:
    """12 significant digits: a summary that is stable against summation-order noise."""
    return float(f"{x:.12g}")


def calibrate(
    close: ArrayLike,
    volume: ArrayLike,
    spread: ArrayLike,
    *,
    ts: ArrayLike,
    symbol: str,
    bar_seconds: float,
    config: CostModelConfig | None = None,
    window: int | None = None,
    profile_bucket_minutes: int = 30,
) -> CalibratedParams:
    """Calibrate spread, volatility, ADV and volume profile from the last ``window`` bars.

    ``ts`` are bar timestamps (int64 ns since epoch, UTC); ``spread`` is the absolute quoted
    spread per bar (NaN where unknown). Returns across gaps longer than 1.5 bars (overnight,
    halts) are excluded from the volatility so it measures intraday diffusion only.
    """
    cfg = config if config is not None else CostModelConfig()
    c = np.asarray(close, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    s = np.asarray(spread, dtype=np.float64)
    t = np.asarray(ts, dtype=np.int64)
    if not (c.shape == v.shape == s.shape == t.shape) or c.ndim != 1:
        raise ValueError("close, volume, spread and ts must be 1-D arrays of equal length")
    if window is not None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        c, v, s, t = c[-window:], v[-window:], s[-window:], t[-window:]
    if c.shape[0] < 2:
        raise ValueError("need at least 2 bars to calibrate")
    if not np.all(c > 0):
        raise ValueError("close must be > 0")
    if not bar_seconds > 0:
        raise ValueError(f"bar_seconds must be > 0, got {bar_seconds}")
    if profile_bucket_minutes <= 0 or 1440 % profile_bucket_minutes:
        raise ValueError("profile_bucket_minutes must divide 1440")

    spread_bps = s / c * 1e4
    finite = np.isfinite(spread_bps)
    median_spread_bps = (
        float(np.median(spread_bps[finite])) if finite.any() else cfg.fixed_spread_bps
    )

    log_ret = np.diff(np.log(c))
    contiguous = np.diff(t) <= 1.5 * bar_seconds * 1e9
    r = log_ret[contiguous]
    bars_per_day = cfg.session_seconds / bar_seconds
    daily_vol = float(np.std(r, ddof=1) * np.sqrt(bars_per_day)) if r.size >= 2 else 0.0

    day = t // _NS_PER_DAY
    n_days = int(np.unique(day).size)
    total_volume = float(np.sum(v))
    adv = total_volume / n_days

    bucket_ns = profile_bucket_minutes * 60 * 1_000_000_000
    bucket = (t % _NS_PER_DAY) // bucket_ns
    n_buckets = 1440 // profile_bucket_minutes
    profile: np.ndarray = np.bincount(bucket, weights=v, minlength=n_buckets).astype(np.float64)
    if total_volume > 0:
        profile = profile / total_volume

    summary: dict[str, Any] = {
        "schema": CALIBRATION_SCHEMA_VERSION,
        "symbol": symbol,
        "bar_seconds": _sig(bar_seconds),
        "profile_bucket_minutes": profile_bucket_minutes,
        "n_bars": int(c.shape[0]),
        "ts_first": int(t[0]),
        "ts_last": int(t[-1]),
        "sum_close": _sig(float(np.sum(c))),
        "sum_log_close_sq": _sig(float(np.sum(np.log(c) ** 2))),
        "sum_volume": _sig(total_volume),
        "sum_spread": _sig(float(np.sum(s[np.isfinite(s)]))),
        "n_spread": int(np.isfinite(s).sum()),
        "config": cfg.model_dump(mode="json"),
    }
    version = hashlib.sha256(canonical_json(summary).encode()).hexdigest()

    return CalibratedParams(
        symbol=symbol,
        median_spread_bps=median_spread_bps,
        daily_vol=daily_vol,
        adv=adv,
        volume_profile=tuple(float(x) for x in profile),
        profile_bucket_minutes=profile_bucket_minutes,
        bar_seconds=float(bar_seconds),
        n_bars=int(c.shape[0]),
        n_days=n_days,
        window_start=datetime.fromtimestamp(int(t[0]) / 1e9, tz=UTC),
        window_end=datetime.fromtimestamp(int(t[-1]) / 1e9, tz=UTC),
        config=cfg,
        version=version,
    )
