"""Symbols, their trading calendars and session windows.

Calendars come from ``exchange_calendars`` (maintained holiday and early-close data), never a
hand-made holiday list. Date partitions are UTC calendar days; a session window is the part of
the symbol's calendar sessions that falls inside that UTC day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")

_CRYPTO_RE = re.compile(r"(USDT|USDC|BUSD|BTC|XBT|ETH|SOL|DOGE)")
_FUTURES_RE = re.compile(r"^[A-Z]{1,3}[FGHJKMNQUVXZ]\d{1,2}$")
_ISO_CCY = frozenset(
    {
        *("USD", "EUR", "JPY", "GBP", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK"),
        *("DKK", "HKD", "SGD", "CNH", "MXN", "ZAR", "TRY", "PLN", "CZK", "HUF"),
    }
)


class InvalidSymbolError(ValueError):
    """A vendor symbol cannot be turned into a partition-safe symbol."""


def normalize_symbol(raw: str) -> str:
    """Vendor spelling → partition key: upper case, separators '/' and ' ' removed.

    Partition keys must not contain '|' (Dagster's multi-partition delimiter) or path separators.
    """
    symbol = raw.strip().upper().replace("/", "").replace(" ", "")
    if not SYMBOL_RE.match(symbol):
        raise InvalidSymbolError(
            f"symbol {raw!r} is not usable as a partition key (allowed: {SYMBOL_RE.pattern})"
        )
    return symbol


@dataclass(frozen=True)
class Instrument:
    symbol: str
    calendar: str  # an exchange_calendars name: XNYS, 24/7, 24/5, CMES, ...
    synthetic: bool = False
    base_price: float = 100.0


# Synthetic instruments the local deployment generates out of the box.
SYNTHETIC_INSTRUMENTS: dict[str, Instrument] = {
    i.symbol: i
    for i in (
        Instrument("SYNA", "XNYS", synthetic=True, base_price=150.0),
        Instrument("SYNB", "XNYS", synthetic=True, base_price=42.0),
        Instrument("SYNC", "24/7", synthetic=True, base_price=30_000.0),
    )
}


def infer_calendar(symbol: str) -> str:
    """Best guess of a symbol's calendar; explicit catalog entries take precedence."""
    if symbol in SYNTHETIC_INSTRUMENTS:
        return SYNTHETIC_INSTRUMENTS[symbol].calendar
    if len(symbol) == 6 and symbol[:3] in _ISO_CCY and symbol[3:] in _ISO_CCY:
        return "24/5"
    if _CRYPTO_RE.search(symbol) or symbol.endswith("-USD") or symbol.endswith("-PERP"):
        return "24/7"
    if _FUTURES_RE.match(symbol):
        return "CMES"
    return "XNYS"


def instrument_for(symbol: str) -> Instrument:
    return SYNTHETIC_INSTRUMENTS.get(symbol) or Instrument(symbol, infer_calendar(symbol))


@lru_cache(maxsize=16)
def _calendar(name: str) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(name)


def session_windows(calendar: str, day: date) -> np.ndarray:
    """Open intervals of ``calendar`` within UTC day ``day`` as an (k, 2) int64 array of ns.

    Empty on a closed day (weekend, holiday). Lunch/maintenance breaks are excluded.
    """
    cal = _calendar(calendar)
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    lo = max(pd.Timestamp(day - timedelta(days=1)), cal.first_session)
    hi = min(pd.Timestamp(day + timedelta(days=1)), cal.last_session)
    if lo > hi:
        return np.empty((0, 2), dtype=np.int64)
    sched = cal.schedule.loc[lo:hi]
    intervals: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for row in sched.itertuples():  # at most three sessions: not a hot loop
        if pd.isna(row.break_start):
            intervals.append((row.open, row.close))
        else:
            intervals += [(row.open, row.break_start), (row.break_end, row.close)]
    out = []
    for start, end in intervals:
        s, e = max(start, pd.Timestamp(day_start)), min(end, pd.Timestamp(day_end))
        if s < e:
            out.append((s.value, e.value))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def is_open_day(calendar: str, day: date) -> bool:
    return bool(session_windows(calendar, day).size)


def session_opens(calendar: str, start_ns: int, end_ns: int) -> np.ndarray:
    """Open times (ns, sorted) of ``calendar``'s sessions that open in [start - 1 day, end]."""
    cal = _calendar(calendar)
    lo = max(
        pd.Timestamp(start_ns, unit="ns").normalize() - pd.Timedelta(days=2), cal.first_session
    )
    hi = min(pd.Timestamp(end_ns, unit="ns").normalize() + pd.Timedelta(days=1), cal.last_session)
    if lo > hi:
        return np.empty(0, dtype=np.int64)
    opens = cal.schedule.loc[lo:hi, "open"]
    return np.sort(np.asarray([t.value for t in opens], dtype=np.int64))
