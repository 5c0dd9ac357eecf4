"""Symbols and their trading calendars.

Calendars come from ``exchange_calendars`` (maintained holiday and early-close data), never a
hand-made holiday list; sessions and session windows live in ``sessions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
