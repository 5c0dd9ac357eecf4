"""Performance statistics of a policy over its whole evaluation window, from per-bar returns.

Why pooled per-bar returns: a mean of per-episode Sharpes over 11-bar episodes is dominated by
noise and disagrees in sign with the PnL. Here every statistic comes from one series: the per-bar
simple returns ``r_t = ΔE_t / E_{t-1}`` of each episode's equity curve, concatenated over episodes
(and walk-forward folds) in time order. Episodes restart at the same capital, so the pooled
equity curve is the compounded product ``∏(1 + r_t)``.

Conventions (units are in every field name):

* Sharpe = ``mean(r) / std(r, ddof=1) * sqrt(bars_per_year)`` (Sharpe 1994; no risk-free rate:
  positions are intraday and unfunded).
* Sortino = ``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year)``: downside deviation
  against a 0 target over all bars (Sortino & Price 1994; the convention of ``empyrical``).
* ``bars_per_year`` is calendar-aware: the exchange's open seconds per year (``exchange_calendars``,
  holidays, early closes and breaks included, averaged over 2015-2024) divided by the bar length,
  e.g. ~98,000 one-minute bars for XNYS and 525,960 for a 24/7 crypto market.
* Max drawdown: largest peak-to-trough fall of the pooled equity curve, a positive percentage.
* Turnover: traded notional / capital (x); costs by component in bps of traded notional.
* Hit rate: share of bars with a non-zero return that are positive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
CALENDAR_YEARS = (2015, 2024)  # whole years the open-time average is taken over
COST_COMPONENTS = ("commission", "spread", "impact")


@lru_cache(maxsize=32)
def open_seconds_per_year(calendar: str) -> float:
    """Average seconds the market is open per year (sessions minus breaks)."""
    import exchange_calendars as xcals
    import pandas as pd

    if calendar == "24/7":
        return 365.25 * 86_400.0
    first, last = CALENDAR_YEARS
    cal = xcals.get_calendar(calendar, start=f"{first}-01-01", end=f"{last}-12-31")
    sched = cal.schedule
    open_s = (sched["close"] - sched["open"]).dt.total_seconds().sum()
    if "break_start" in sched:
        breaks = (sched["break_end"] - sched["break_start"]).dt.total_seconds()
        open_s -= float(breaks.fillna(0.0).sum())
    years = last - first + 1
    return float(open_s) / years if pd.notna(open_s) else 0.0


def bars_per_year(calendar: str, bar_seconds: float) -> float:
    """Bars of ``bar_seconds`` in an average year of ``calendar`` (annualisation factor)."""
    if not bar_seconds > 0:
        raise ValueError(f"bar_seconds must be > 0, got {bar_seconds}")
    return open_seconds_per_year(calendar) / bar_seconds


def sessions_per_year(calendar: str) -> float:
    """Average number of sessions per year (252-ish for XNYS, 365.25 for 24/7)."""
    import exchange_calendars as xcals

    if calendar == "24/7":
        return 365.25
    first, last = CALENDAR_YEARS
    cal = xcals.get_calendar(calendar, start=f"{first}-01-01", end=f"{last}-12-31")
    return len(cal.sessions) / (last - first + 1)


def sharpe_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Annualised Sharpe of per-period simple returns; 0 for fewer than 2 or constant returns."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    sd = float(np.std(r, ddof=1))
    if not sd > 1e-15:
        return 0.0
    return float(np.mean(r) / sd * math.sqrt(periods_per_year))


def sortino_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Annualised Sortino (target 0); ``inf`` when the mean is positive and nothing was lost."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        return 0.0
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    mean = float(np.mean(r))
    if not downside > 1e-15:
        return math.inf if mean > 0 else 0.0
    return mean / downside * math.sqrt(periods_per_year)


def equity_curve(returns: FloatArray, start: float = 1.0) -> FloatArray:
    """Compounded growth of ``start`` (length ``n + 1``, first value ``start``)."""
    return start * np.r_[1.0, np.cumprod(1.0 + np.asarray(returns, dtype=np.float64))]


def drawdown(returns: FloatArray) -> FloatArray:
    """Drawdown below the running peak at each point of the pooled curve, as a positive fraction."""
    curve = equity_curve(returns)
    peak = np.maximum.accumulate(curve)
    return np.asarray((peak - curve) / peak, dtype=np.float64)


def max_drawdown(returns: FloatArray) -> float:
    return float(np.max(drawdown(returns))) if np.size(returns) else 0.0


def hit_rate(returns: FloatArray) -> float:
    """Share of bars with a non-zero return that are positive (nan without any)."""
    r = np.asarray(returns, dtype=np.float64)
    active = r[r != 0.0]
    return float(np.mean(active > 0.0)) if active.size else math.nan


def rolling_sharpe(returns: FloatArray, window: int, periods_per_year: float) -> FloatArray:
    """Trailing ``window``-bar annualised Sharpe (nan until the window is full)."""
    r = np.asarray(returns, dtype=np.float64)
    out = np.full(r.size, np.nan)
    if window < 2 or r.size < window:
        return out
    view = np.lib.stride_tricks.sliding_window_view(r, window)
    sd = view.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(sd > 1e-15, view.mean(axis=1) / sd, 0.0) * math.sqrt(periods_per_year)
    out[window - 1 :] = s
    return out


@dataclass(frozen=True, eq=False)
class ReturnSeries:
    """One policy's per-bar returns over the evaluation window, pooled over episodes and folds.

    ``ts`` is each return's bar end (int64 ns UTC); ``fold`` the walk-forward fold of each bar.
    Money (``traded_notional``, ``costs``) is in the quote currency. ``returns`` are on the
    running equity (what compounds: Sharpe, drawdown); ``pnl`` is each bar's PnL over the
    episode's starting capital (what adds up: the gate's paired evidence, see
    :attr:`pnl_of_capital`); None where only returns are known (then the two are taken equal).
    """

    policy: str
    ts: IntArray
    returns: FloatArray
    fold: IntArray
    capital: float
    traded_notional: float
    costs: Mapping[str, float] = field(default_factory=dict)
    n_episodes: int = 0
    n_trades: int = 0
    pnl: FloatArray | None = None

    def __post_init__(self) -> None:
        if not (self.ts.shape == self.returns.shape == self.fold.shape):
            raise ValueError("ReturnSeries: ts, returns and fold must have the same length")
        if self.pnl is not None and self.pnl.shape != self.returns.shape:
            raise ValueError("ReturnSeries: pnl and returns must have the same length")

    @property
    def pnl_of_capital(self) -> FloatArray:
        """Per-bar PnL / the episode's starting capital (fraction); ``returns`` when unknown.

        Why not ``returns``: a return on the running equity divides the same money by a
        different denominator for two policies whose equity has drifted apart, so the paired
        difference of two identical-money bars is ``-dE * (E_a - E_b) / E^2``, a term with the
        sign of the past excess (measured: two every-bar-flipping nulls paying 0.56 bps of
        capital a bar, sd of the t-statistic 1.087 instead of 1; docs/evaluation.md)."""
        return self.returns if self.pnl is None else self.pnl

    @property
    def n_bars(self) -> int:
        return int(self.returns.size)


def pool(parts: Sequence[ReturnSeries]) -> ReturnSeries:
    """Concatenate series of one policy (episodes or folds) in time order."""
    if not parts:
        raise ValueError("nothing to pool")
    names = {p.policy for p in parts}
    if len(names) != 1:
        raise ValueError(f"cannot pool different policies {sorted(names)}")
    ordered = sorted(parts, key=lambda p: int(p.ts[0]) if p.ts.size else 0)
    costs: dict[str, float] = {}
    for p in ordered:
        for k, v in p.costs.items():
            costs[k] = costs.get(k, 0.0) + float(v)
    ts = np.concatenate([p.ts for p in ordered]).astype(np.int64)
    pnl = (
        np.concatenate([p.pnl_of_capital for p in ordered])
        if any(p.pnl is not None for p in ordered)
        else None
    )
    if ts.size > 1 and not np.all(np.diff(ts) >= 0):
        raise ValueError("pooled bars overlap: episodes/folds must not share a bar")
    return ReturnSeries(
        policy=ordered[0].policy,
        ts=ts,
        returns=np.concatenate([p.returns for p in ordered]),
        fold=np.concatenate([p.fold for p in ordered]).astype(np.int64),
        capital=ordered[0].capital,
        traded_notional=sum(p.traded_notional for p in ordered),
        costs=costs,
        n_episodes=sum(p.n_episodes for p in ordered),
        n_trades=sum(p.n_trades for p in ordered),
        pnl=pnl,
    )


@dataclass(frozen=True)
class PerformanceStats:
    """Figures of one policy over the pooled window; units are part of each name."""

    policy: str
    n_bars: int
    n_episodes: int
    sessions: float  # bars / bars per session
    total_return_pct: float
    annual_return_pct: float  # mean per-bar return * bars per year (arithmetic)
    annual_vol_pct: float
    sharpe_annual: float
    sortino_annual: float
    max_drawdown_pct: float
    hit_rate_pct: float
    turnover_x_capital: float  # traded notional / capital over the window
    turnover_per_session_x: float
    n_trades: int
    cost_commission_bps: float  # bps of traded notional
    cost_spread_bps: float
    cost_impact_bps: float
    cost_total_bps: float
    bars_per_year: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance(
    series: ReturnSeries, *, bars_per_year: float, bars_per_session: float
) -> PerformanceStats:
    r = series.returns
    notional = series.traded_notional

    def bps(value: float) -> float:
        return value / notional * 1e4 if notional > 0 else 0.0

    costs = {k: float(series.costs.get(k, 0.0)) for k in COST_COMPONENTS}
    sessions = series.n_bars / bars_per_session if bars_per_session > 0 else math.nan
    turnover = notional / series.capital
    return PerformanceStats(
        policy=series.policy,
        n_bars=series.n_bars,
        n_episodes=series.n_episodes,
        sessions=sessions,
        total_return_pct=float(equity_curve(r)[-1] - 1.0) * 100.0,
        annual_return_pct=float(np.mean(r)) * bars_per_year * 100.0 if r.size else 0.0,
        annual_vol_pct=(
            float(np.std(r, ddof=1)) * math.sqrt(bars_per_year) * 100.0 if r.size > 1 else 0.0
        ),
        sharpe_annual=sharpe_ratio(r, bars_per_year),
        sortino_annual=sortino_ratio(r, bars_per_year),
        max_drawdown_pct=max_drawdown(r) * 100.0,
        hit_rate_pct=hit_rate(r) * 100.0,
        turnover_x_capital=turnover,
        turnover_per_session_x=turnover / sessions if sessions and sessions > 0 else 0.0,
        n_trades=series.n_trades,
        cost_commission_bps=bps(costs["commission"]),
        cost_spread_bps=bps(costs["spread"]),
        cost_impact_bps=bps(costs["impact"]),
        cost_total_bps=bps(sum(costs.values())),
        bars_per_year=bars_per_year,
    )
