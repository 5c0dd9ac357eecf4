"""Per-symbol calibration of cost-model inputs from bars over a trailing window, per session.

Why per session: ADV, daily volatility and annualisation are quantities of the market's trading
sessions (``exchange_calendars``), not of UTC dates. Every field records where it came from
(``provenance``: quoted / trades / fallback, the method, observations and minutes covered) and
what is doubtful about it (``warnings``), and impossible values (no volume, no returns) are
refused with :class:`CalibrationError` rather than floored to something that looks valid.

The output carries a content ``version`` (sha256 of a canonical JSON summary of the inputs and of
the cost config) so that downstream assets (envs, evaluations) can record exactly which
calibration they used. Formulas: ``docs/cost_engine.md``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict

from quant_assets.lib.costs.config import CostModelConfig, canonical_json
from quant_assets.lib.costs.sessions import bar_sessions, calendar_for

CALIBRATION_SCHEMA_VERSION = 2
_NS_PER_DAY = 86_400 * 1_000_000_000
Source = Literal["quoted", "trades", "fallback"]


class CalibrationError(ValueError):
    """The window cannot give a usable value (no volume, no returns): refused, not floored."""


class FieldProvenance(BaseModel):
    """Where one calibrated field came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source
    method: str  # e.g. median_quoted, roll, close_to_close, intraday_rv_ac1, full_sessions
    observations: int  # bars / returns / sessions the estimate used
    minutes: float  # minutes of market time those observations cover


class CalibratedParams(BaseModel):
    """Calibrated per-symbol inputs of the cost engine (see ``docs/cost_engine.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    calendar: str
    median_spread_bps: float  # median spread / price, in bps (quoted, Roll, or fallback)
    daily_vol: float  # daily (one-session) log-return volatility, fraction
    adv: float  # average volume per trading session, shares
    volume_profile: tuple[float, ...]  # share of volume per UTC time-of-day bucket, sums to 1
    profile_bucket_minutes: int
    bar_seconds: float
    n_bars: int
    n_days: int  # sessions touched by the window
    session_seconds: float  # the calendar's scheduled session length
    sessions_per_year: float  # the calendar's sessions in the last 365 days
    window_start: datetime
    window_end: datetime
    provenance: dict[str, FieldProvenance]
    warnings: tuple[str, ...]
    config: CostModelConfig
    version: str


def _sig(x: float) -> float:
    """12 significant digits: a summary that is stable against summation-order noise."""
    return float(f"{x:.12g}")


def roll_spread(log_price: NDArray[np.float64], same_session: NDArray[np.bool_]) -> float | None:
    """Roll (1984) relative spread ``2*sqrt(-cov(dp_t, dp_{t-1}))`` from trade prices; None when
    the first-order autocovariance is not negative (the estimator is undefined)."""
    dp = np.diff(log_price)
    inside = same_session[1:]  # dp[k] (into bar k+1) stays inside one session
    ok = inside[1:] & inside[:-1]
    a, b = dp[1:][ok], dp[:-1][ok]
    if a.size < 2:
        return None
    cov = float(np.mean((a - a.mean()) * (b - b.mean())))
    return 2.0 * math.sqrt(-cov) if cov < 0 else None


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
    mid: ArrayLike | None = None,
    quoted: ArrayLike | None = None,
    calendar: str = "",
) -> CalibratedParams:
    """Calibrate spread, daily volatility, ADV and volume profile from the last ``window`` bars.

    ``ts`` are end-stamped bar times (int64 ns UTC); ``spread`` the absolute spread per bar,
    ``quoted`` whether it was measured from quotes (default: where finite), ``mid`` the quote mid
    (default: ``close``). Sessions come from ``calendar`` (default: the symbol's).
    """
    cfg = config if config is not None else CostModelConfig()
    c = np.asarray(close, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    s = np.asarray(spread, dtype=np.float64)
    t = np.asarray(ts, dtype=np.int64)
    m = c if mid is None else np.asarray(mid, dtype=np.float64)
    qd = np.isfinite(s) if quoted is None else np.asarray(quoted, dtype=bool)
    if not (c.shape == v.shape == s.shape == t.shape == m.shape == qd.shape) or c.ndim != 1:
        raise ValueError("close, volume, spread and ts must be 1-D arrays of equal length")
    if window is not None:
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        c, v, s, m = c[-window:], v[-window:], s[-window:], m[-window:]
        t, qd = t[-window:], qd[-window:]
    if c.shape[0] < 2:
        raise CalibrationError("need at least 2 bars to calibrate")
    if not np.all(c > 0):
        raise ValueError("close must be > 0")
    if not bar_seconds > 0:
        raise ValueError(f"bar_seconds must be > 0, got {bar_seconds}")
    if profile_bucket_minutes <= 0 or 1440 % profile_bucket_minutes:
        raise ValueError("profile_bucket_minutes must divide 1440")
    cal = calendar_for(symbol, calendar)
    sess = bar_sessions(t, cal)
    warnings: list[str] = []
    qd = qd & np.isfinite(s) & np.isfinite(m) & (m > 0)
    price = np.where(qd, m, c)  # the mid where quoted: no bid/ask bounce

    # Sessions: first/last bar, span (minutes covered), volume.
    starts = np.flatnonzero(sess.is_first)
    ends = np.r_[starts[1:], c.size]
    span_s = (t[ends - 1] - t[starts]) / 1e9 + bar_seconds
    coverage = np.minimum(span_s / sess.session_seconds, 1.0)
    minutes = float(np.sum(np.minimum(span_s, sess.session_seconds)) / 60.0)
    session_volume = np.add.reduceat(v, starts)
    total_volume = float(np.sum(v))
    if minutes < cfg.min_window_minutes:
        warnings.append(
            f"short window: {minutes:.0f} minutes of bars (< {cfg.min_window_minutes:.0f})"
        )

    # ADV: mean volume of the full sessions; otherwise scaled from the covered fraction.
    full = coverage >= cfg.min_session_coverage
    if full.any():
        adv = float(np.mean(session_volume[full]))
        adv_prov = FieldProvenance(
            source="trades",
            method="full_sessions",
            observations=int(full.sum()),
            minutes=float(np.sum(np.minimum(span_s[full], sess.session_seconds)) / 60.0),
        )
    else:
        adv = total_volume / float(np.sum(coverage))
        adv_prov = FieldProvenance(
            source="trades",
            method="scaled_partial_sessions",
            observations=starts.size,
            minutes=minutes,
        )
        warnings.append(
            f"adv: no session covered >= {cfg.min_session_coverage:.0%}; scaled from "
            f"{minutes:.0f} minutes"
        )
    if not adv > 0:
        if cfg.fallback_adv is None or not cfg.fallback_adv > 0:
            raise CalibrationError(f"no traded volume in the window of {symbol}: ADV would be 0")
        adv = float(cfg.fallback_adv)
        adv_prov = FieldProvenance(
            source="fallback", method="configured_fallback_adv", observations=0, minutes=0.0
        )
        warnings.append(
            f"adv: no traded volume in the window (quote-only feed?); fallback ADV "
            f"{adv:,.0f} units/session: impact costs are a guess"
        )

    # Daily volatility: close-to-close session returns when there are enough, else intraday
    # realised variance per session (first-order autocovariance corrected for trade prices).
    log_p = np.log(price)
    session_close = log_p[ends - 1][full]
    r_cc = np.diff(session_close)
    if r_cc.size >= cfg.min_daily_returns:
        daily_vol = float(np.std(r_cc, ddof=1))
        vol_prov = FieldProvenance(
            source="quoted" if qd.all() else "trades",
            method="close_to_close",
            observations=int(r_cc.size),
            minutes=adv_prov.minutes,
        )
    else:
        same = ~sess.is_first  # bar k's return from bar k-1 stays inside the session
        r = np.where(same[1:], np.diff(log_p), 0.0)
        ac1 = np.r_[r[1:] * r[:-1], 0.0] if not qd.all() else np.zeros_like(r)
        seg = np.maximum(sess.index[1:], 0)
        rv = np.bincount(seg, weights=r * r + 2.0 * ac1, minlength=starts.size)
        n_ret = np.bincount(seg, weights=same[1:].astype(np.float64), minlength=starts.size)
        ret_span = (t[ends - 1] - t[starts]) / 1e9
        usable = (n_ret >= 1) & (ret_span > 0)
        if not usable.any():
            raise CalibrationError(f"no intraday returns in the window of {symbol}")
        per_session = np.maximum(rv[usable], 0.0) * sess.session_seconds / ret_span[usable]
        daily_vol = float(math.sqrt(float(np.mean(per_session))))
        vol_prov = FieldProvenance(
            source="quoted" if qd.all() else "trades",
            method="intraday_rv" if qd.all() else "intraday_rv_ac1",
            observations=int(n_ret.sum()),
            minutes=float(np.sum(ret_span[usable]) / 60.0),
        )
        warnings.append(
            f"daily_vol: {r_cc.size} close-to-close returns (< {cfg.min_daily_returns}); "
            f"intraday estimate scaled to a {sess.session_seconds / 3600:.1f} h session"
        )

    # Spread: quoted where quotes exist, else Roll from trade prices, else the fallback.
    bar_minutes = bar_seconds / 60.0
    if qd.any():
        median_spread_bps = float(np.median(s[qd] / m[qd] * 1e4))
        spread_prov = FieldProvenance(
            source="quoted",
            method="median_quoted",
            observations=int(qd.sum()),
            minutes=float(qd.sum() * bar_minutes),
        )
    else:
        roll = roll_spread(np.log(c), ~sess.is_first)
        if roll is not None:
            median_spread_bps = roll * 1e4
            spread_prov = FieldProvenance(
                source="trades", method="roll", observations=int(c.size - 1), minutes=minutes
            )
        else:
            median_spread_bps = cfg.fixed_spread_bps
            spread_prov = FieldProvenance(
                source="fallback", method="fixed_spread_bps", observations=0, minutes=0.0
            )
            warnings.append(
                f"spread: no quotes and the Roll estimator is undefined; fallback "
                f"{cfg.fixed_spread_bps} bps"
            )

    bucket_ns = profile_bucket_minutes * 60 * 1_000_000_000
    bucket = (t % _NS_PER_DAY) // bucket_ns
    n_buckets = 1440 // profile_bucket_minutes
    profile: np.ndarray = np.bincount(bucket, weights=v, minlength=n_buckets).astype(np.float64)
    # no traded volume (quote-only feed, fallback ADV): a flat profile, not 0/0
    profile = profile / total_volume if total_volume > 0 else np.full(n_buckets, 1.0 / n_buckets)

    summary: dict[str, Any] = {
        "schema": CALIBRATION_SCHEMA_VERSION,
        "symbol": symbol,
        "calendar": cal,
        "bar_seconds": _sig(bar_seconds),
        "profile_bucket_minutes": profile_bucket_minutes,
        "n_bars": int(c.shape[0]),
        "ts_first": int(t[0]),
        "ts_last": int(t[-1]),
        "sum_close": _sig(float(np.sum(c))),
        "sum_log_close_sq": _sig(float(np.sum(np.log(c) ** 2))),
        "sum_mid": _sig(float(np.sum(m[qd]))),
        "sum_volume": _sig(total_volume),
        "sum_spread": _sig(float(np.sum(s[qd]))),
        "n_quoted": int(qd.sum()),
        "config": cfg.model_dump(mode="json"),
    }
    version = hashlib.sha256(canonical_json(summary).encode()).hexdigest()

    return CalibratedParams(
        symbol=symbol,
        calendar=cal,
        median_spread_bps=median_spread_bps,
        daily_vol=daily_vol,
        adv=adv,
        volume_profile=tuple(float(x) for x in profile),
        profile_bucket_minutes=profile_bucket_minutes,
        bar_seconds=float(bar_seconds),
        n_bars=int(c.shape[0]),
        n_days=int(starts.size),
        session_seconds=sess.session_seconds,
        sessions_per_year=sess.sessions_per_year,
        window_start=datetime.fromtimestamp(int(t[0]) / 1e9, tz=UTC),
        window_end=datetime.fromtimestamp(int(t[-1]) / 1e9, tz=UTC),
        provenance={"spread": spread_prov, "daily_vol": vol_prov, "adv": adv_prov},
        warnings=tuple(warnings),
        config=cfg,
        version=version,
    )
