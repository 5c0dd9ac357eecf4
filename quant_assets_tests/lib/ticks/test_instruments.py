from __future__ import annotations

import pytest

from quant_assets.lib.ticks.instruments import (
    InvalidSymbolError,
    infer_calendar,
    normalize_symbol,
)


@pytest.mark.parametrize(
    ("raw", "symbol", "calendar"),
    [
        ("USD/JPY", "USDJPY", "24/5"),
        ("btcusdt", "BTCUSDT", "24/7"),
        ("BTC-USD", "BTC-USD", "24/7"),
        ("ESU4", "ESU4", "CMES"),
        ("NVDA", "NVDA", "XNYS"),
        ("SYNC", "SYNC", "24/7"),
    ],
)
def test_normalize_symbol_vendor_spellings_map_to_symbol_and_calendar(
    raw: str, symbol: str, calendar: str
) -> None:
    assert normalize_symbol(raw) == symbol
    assert infer_calendar(symbol) == calendar


@pytest.mark.parametrize("raw", ["", "A|B", "../X", "a" * 40])
def test_normalize_symbol_unsafe_partition_key_rejected(raw: str) -> None:
    with pytest.raises(InvalidSymbolError):
        normalize_symbol(raw)
