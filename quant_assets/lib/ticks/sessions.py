"""Markets and trading sessions: which session date a tick belongs to.

A tick partition's date is its market's trading *session* date from ``exchange_calendars``, not
the UTC day: a US equity print at 20:00 New York (01:00 UTC the next day) belongs to that day's
session, like the 04:00 pre-market prints. The rule, per calendar:

* between two sessions, the gap belongs to the earlier session up to the local midnight after
  its close when the next session opens on a later local day (XNYS: extended hours belong to
  their session); when the next session opens on the day the previous one closed (CME Globex
  opens at 17:00 CT for the next day's session), the gap ends at that open;
* 24/7 and 24/5 calendars are UTC days, so a tick's session is its UTC date.

Markets are the second partition dimension: one per calendar (a venue or universe), so the
number of partitions does not grow with the number of symbols.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from quant_assets.lib.settings import env_value
from quant_assets.lib.ticks.instruments import instrument_for

FIRST_SESSION_ENV = "QUANT_FIRST_SESSION"
DEFAULT_FIRST_SESSION = date(1990, 1, 1)  # far enough back for real archives (TAQ starts 1993)
EPOCH = date(1970, 1, 1)
NS_PER_DAY = 86_400 * 1_000_000_000


def first_session_from_env(environ: dict[str, str] | None = None) -> date:
    """The first session date of the lake (``QUANT_FIRST_SESSION``, ISO date)."""
    value = env_value(FIRST_SESSION_ENV, environ)
    return date.fromisoformat(value) if value else DEFAULT_FIRST_SESSION


@dataclass(frozen=True)
class Market:
    """A venue or universe sharing one trading calendar; a partition dimension value."""

    name: str  # partition key: upper case, no '|'
    calendar: str  # exchange_calendars name
    description: str


MARKETS: dict[str, Market] = {
    m.name: m
    for m in (
        Market("XNYS", "XNYS", "US equities (NYSE calendar, extended hours in their session)"),
        Market("CMES", "CMES", "CME Globex futures (session opens the evening before)"),
        Market("FX", "24/5", "spot FX, UTC days Monday to Friday"),
        Market("CRYPTO", "24/7", "crypto, UTC days"),
    )
}
_MARKET_BY_CALENDAR = {m.calendar: m for m in MARKETS.values()}


def market_for(symbol: str) -> Market:
    calendar = instrument_for(symbol).calendar
    try:
        return _MARKET_BY_CALENDAR[calendar]
    except KeyError:  # a catalog calendar without a market is a programming error
        raise ValueError(f"no market for calendar {calendar!r} of {symbol}") from None


@lru_cache(maxsize=16)
def get_calendar(name: str) -> xcals.ExchangeCalendar:
    """Calendar covering the earliest allowed first session (cached per process)."""
    start = min(DEFAULT_FIRST_SESSION, first_session_from_env())
    return xcals.get_calendar(name, start=pd.Timestamp(start))


@dataclass(frozen=True)
class SessionIndex:
    """Sessions of one calendar as days since 1970 and the UTC ns at which each one ends
    (its close plus the after-hours that belong to it)."""

    sessions: np.ndarray  # int64 days since epoch, ascending
    ends: np.ndarray  # int64 ns, ascending
    start: int  # ns: earliest tick of the first session (its local midnight or its open)

    def session_days(self, ts_ns: np.ndarray) -> np.ndarray:
        """Session (days since epoch) of each timestamp; -1 outside the calendar's range."""
        idx = np.searchsorted(self.ends, ts_ns, side="right")
        out = np.full(ts_ns.shape, -1, dtype=np.int64)
        inside = (idx < self.sessions.size) & (ts_ns >= self.start)
        out[inside] = self.sessions[idx[inside]]
        return out


@lru_cache(maxsize=16)
def session_index(calendar: str) -> SessionIndex:
    cal = get_calendar(calendar)
    tz = cal.tz
    opens = cal.opens.dt.tz_convert(tz)
    closes = cal.closes.dt.tz_convert(tz)
    close_day = (closes - pd.Timedelta(1, "ns")).dt.tz_localize(None).dt.normalize()
    midnight_after = (close_day + pd.Timedelta(days=1)).dt.tz_localize(tz)
    next_open = opens.shift(-1)
    next_open_day = next_open.dt.tz_localize(None).dt.normalize()
    same_day = (next_open_day <= close_day).fillna(False).to_numpy(dtype=bool)
    ends = np.where(same_day, _ns(next_open.fillna(midnight_after)), _ns(midnight_after))
    sessions = np.asarray(cal.sessions.as_unit("ns").asi8 // NS_PER_DAY, dtype=np.int64)
    first_midnight = pd.Timestamp(cal.first_session.date()).tz_localize(tz)
    start = min(int(_ns(opens.iloc[:1])[0]), first_midnight.tz_convert(UTC).value)
    return SessionIndex(sessions=sessions, ends=np.asarray(ends, dtype=np.int64), start=start)


def warm_up() -> None:
    """Build every market's calendar and session index now (about a second each), e.g. in the
    process run workers are forked from, so no run pays for them."""
    for market in MARKETS.values():
        session_index(market.calendar)


def _ns(series: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(series).tz_convert(UTC).as_unit("ns").asi8, dtype=np.int64)


def session_days(calendar: str, ts_ns: np.ndarray) -> np.ndarray:
    """Session date (days since 1970) of each UTC-ns timestamp under ``calendar``."""
    return session_index(calendar).session_days(np.asarray(ts_ns, dtype=np.int64))


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def session_windows(calendar: str, session: date) -> np.ndarray:
    """Regular-hours intervals of ``session`` as a (k, 2) int64 array of UTC ns; empty when
    ``session`` is not a session of the calendar (weekend, holiday). Breaks are excluded."""
    cal = get_calendar(calendar)
    ts = pd.Timestamp(session)
    if ts < cal.first_session or ts > cal.last_session or not cal.is_session(ts):
        return np.empty((0, 2), dtype=np.int64)
    row = cal.schedule.loc[ts]
    if pd.isna(row["break_start"]):
        intervals = [(row["open"], row["close"])]
    else:
        intervals = [(row["open"], row["break_start"]), (row["break_end"], row["close"])]
    return np.asarray([(s.value, e.value) for s, e in intervals], dtype=np.int64).reshape(-1, 2)


def is_session(calendar: str, session: date) -> bool:
    return bool(session_windows(calendar, session).size)


@dataclass(frozen=True)
class SessionRange:
    """Sessions the lake accepts: from the configured first session to the next session
    after today (a live desk builds today's partial session; CME's evening ticks already
    belong to tomorrow's)."""

    first: date
    last: date

    @classmethod
    def current(cls, first: date | None = None, now: datetime | None = None) -> SessionRange:
        today = (now or datetime.now(tz=UTC)).astimezone(UTC).date()
        return cls(first or first_session_from_env(), today + timedelta(days=1))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last

    def __str__(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()}"


def session_opens(calendar: str, start_ns: int, end_ns: int) -> np.ndarray:
    """Open times (ns, sorted) of ``calendar``'s sessions opening from two days before
    ``start_ns`` to a day after ``end_ns``: the carry-reset points of a quote book."""
    cal = get_calendar(calendar)
    lo = max(
        pd.Timestamp(start_ns, unit="ns").normalize() - pd.Timedelta(days=2), cal.first_session
    )
    hi = min(pd.Timestamp(end_ns, unit="ns").normalize() + pd.Timedelta(days=1), cal.last_session)
    if lo > hi:
        return np.empty(0, dtype=np.int64)
    opens = cal.schedule.loc[lo:hi, "open"]
    return np.sort(np.asarray([t.value for t in opens], dtype=np.int64))
