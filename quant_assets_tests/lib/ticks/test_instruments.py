from __future__ import annotations

from datetime import date

import pytest

from quant_assets.lib.ticks.instruments import (
    InvalidSymbolError,
    infer_calendar,
    normalize_symbol,
    session_windows,
)

OPEN, CLOSE = 1_719_927_000_000_000_000, 1_719_950_400_000_000_000  # 2024-07-02 XNYS 13:30-20:00Z
NS_PER_HOUR = 3_600 * 10**9


def test_session_windows_xnys_regular_day_returns_utc_open_close() -> None:
    assert session_windows("XNYS", date(2024, 7, 2)).tolist() == [[OPEN, CLOSE]]


def test_session_windows_xnys_holiday_and_weekend_empty() -> None:
    assert session_windows("XNYS", date(2024, 7, 4)).size == 0
    assert session_windows("XNYS", date(2024, 7, 6)).size == 0


def test_session_windows_xnys_early_close_ends_at_one_pm() -> None:
    ((start, end),) = session_windows("XNYS", date(2024, 11, 29)).tolist()
    assert (end - start) == int(3.5 * NS_PER_HOUR)


def test_session_windows_24_7_weekend_is_whole_utc_day() -> None:
    ((start, end),) = session_windows("24/7", date(2024, 7, 6)).tolist()
    assert end - start == 24 * NS_PER_HOUR


def test_session_windows_cme_day_split_at_session_boundary() -> None:
    windows = session_windows("CMES", date(2024, 7, 1))
    assert len(windows) == 2 and windows[0, 1] == windows[1, 0]


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
