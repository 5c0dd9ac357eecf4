"""Trading sessions of a market from its ``exchange_calendars`` calendar, for bars.

Why: ADV, daily volatility, annualisation and the overnight policy are all *per session*, and a
session is not a UTC date (a futures session crosses midnight, a 24/7 market has 365 a year).
Bars are end-stamped, so a bar ending at ``ts`` belongs to the session of the instant just before
``ts``, by the tick lake's own rule (:func:`quant_assets.lib.ticks.sessions.session_days`:
extended hours belong to their session, a CME session opens the evening before, 24/7 markets
are UTC days), which keeps every bar in exactly one session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.sessions import get_calendar, session_days

OvernightPolicy = Literal["flatten", "hold"]
_NS_PER_S = 1_000_000_000
_YEAR_NS = 365 * 86_400 * _NS_PER_S
# Markets that close overnight are flattened at the close by default (positions are intraday);
# continuous markets hold and pay financing. Anything not listed follows the equity rule.
_HOLD_CALENDARS = frozenset({"24/7", "24/5", "CMES"})


@dataclass(frozen=True)
class SessionInfo:
    """Session index of every bar and the calendar's session geometry around them."""

    calendar: str
    index: NDArray[np.int64]  # per bar: session number (0 = first session touched)
    session_seconds: float  # median scheduled session length (breaks excluded)
    sessions_per_year: float  # sessions in the 365 days ending at the last bar

    @property
    def is_last(self) -> NDArray[np.bool_]:
        """Per bar: the last bar of its session within these bars."""
        idx = self.index
        return np.r_[idx[1:] != idx[:-1], True] if idx.size else np.zeros(0, dtype=bool)

    @property
    def is_first(self) -> NDArray[np.bool_]:
        idx = self.index
        return np.r_[True, idx[1:] != idx[:-1]] if idx.size else np.zeros(0, dtype=bool)


def _ns(column: pd.Series) -> NDArray[np.int64]:
    """UTC timestamps as int64 ns (NaT rows are masked by the caller)."""
    return np.asarray(pd.DatetimeIndex(column).asi8, dtype=np.int64)


def calendar_for(symbol: str, calendar: str = "") -> str:
    """The explicit calendar name, else the symbol's instrument calendar."""
    return calendar or instrument_for(symbol).calendar


def default_overnight(calendar: str) -> OvernightPolicy:
    """Per-market default: flatten at the close where the market closes, hold otherwise."""
    return "hold" if calendar in _HOLD_CALENDARS else "flatten"


def bar_sessions(ts: NDArray[np.int64], calendar: str) -> SessionInfo:
    """Map end-stamped bar times (int64 ns UTC) to sessions of ``calendar``."""
    cal = get_calendar(calendar)
    if ts.size == 0:
        return SessionInfo(calendar, np.zeros(0, np.int64), 23_400.0, 252.0)
    lo = pd.Timestamp(int(ts[0]) - 7 * 86_400 * _NS_PER_S, tz="UTC").normalize().tz_localize(None)
    hi = pd.Timestamp(int(ts[-1]) + 86_400 * _NS_PER_S, tz="UTC").normalize().tz_localize(None)
    lo, hi = max(lo, cal.first_session), min(hi, cal.last_session)
    sched = cal.schedule.loc[lo:hi]
    opens = _ns(sched["open"])
    closes = _ns(sched["close"])
    raw = session_days(calendar, ts - 1)  # -1: outside the calendar's range
    _, index = np.unique(raw, return_inverse=True)
    length = (closes - opens).astype(np.float64)
    brk = sched["break_start"].notna().to_numpy()
    if brk.any():
        bs, be = _ns(sched["break_start"]), _ns(sched["break_end"])
        length = np.where(brk, length - (be - bs), length)
    session_seconds = float(np.median(length)) / _NS_PER_S if length.size else 23_400.0
    year_lo = pd.Timestamp(int(ts[-1]) - _YEAR_NS, tz="UTC").normalize().tz_localize(None)
    year_hi = pd.Timestamp(int(ts[-1]), tz="UTC").normalize().tz_localize(None)
    year_lo, year_hi = max(year_lo, cal.first_session), min(year_hi, cal.last_session)
    per_year = float(len(cal.sessions_in_range(year_lo, year_hi))) if year_lo <= year_hi else 0.0
    return SessionInfo(
        calendar=calendar,
        index=index.astype(np.int64),
        session_seconds=session_seconds,
        sessions_per_year=per_year if per_year > 0 else 252.0,
    )
