from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from quant_assets.lib.ticks.sessions import (
    SessionRange,
    first_session_from_env,
    from_day_number,
    market_for,
    session_days,
    session_windows,
)

OPEN, CLOSE = 1_719_927_000_000_000_000, 1_719_950_400_000_000_000  # 2024-07-02 XNYS 13:30-20:00Z
NS_PER_HOUR = 3_600 * 10**9


def sessions_of(calendar: str, local_times: list[str], tz: str) -> list[str]:
    ts = pd.DatetimeIndex(pd.to_datetime(local_times, format="ISO8601")).tz_localize(tz)
    ns = ts.tz_convert("UTC").as_unit("ns").asi8
    return [from_day_number(d).isoformat() if d >= 0 else "-" for d in session_days(calendar, ns)]


def test_session_days_xnys_extended_hours_belong_to_their_session() -> None:
    local = ["2024-01-02 04:00", "2024-01-02 09:30", "2024-01-02 16:30", "2024-01-02 20:00"]
    assert sessions_of("XNYS", local, "America/New_York") == ["2024-01-02"] * 4


def test_session_days_cme_evening_belongs_to_next_session() -> None:
    local = ["2024-07-01 15:59", "2024-07-01 17:30", "2024-07-02 10:00"]
    assert sessions_of("CMES", local, "America/Chicago") == [
        "2024-07-01",
        "2024-07-02",
        "2024-07-02",
    ]


def test_session_days_24_7_is_utc_date_and_outside_calendar_is_marked() -> None:
    utc = ["2024-07-06 23:59", "2024-07-07 00:00", "1969-12-31 12:00", "2099-01-01 00:00"]
    assert sessions_of("24/7", utc, "UTC") == ["2024-07-06", "2024-07-07", "-", "-"]


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


def test_session_windows_cme_session_opens_previous_evening() -> None:
    ((start, end),) = session_windows("CMES", date(2024, 7, 1)).tolist()
    opened = datetime.fromtimestamp(start / 1e9, tz=UTC)
    assert opened.date() == date(2024, 6, 30) and end - start == 24 * NS_PER_HOUR


@pytest.mark.parametrize(
    ("symbol", "market"),
    [
        ("SPY", "XNYS"),
        ("ESU4", "CMES"),
        ("USDJPY", "FX"),
        ("BTCUSDT", "CRYPTO"),
        ("SYNC", "CRYPTO"),
    ],
)
def test_market_for_symbol_follows_its_calendar(symbol: str, market: str) -> None:
    assert market_for(symbol).name == market


def test_session_range_default_first_session_1990_and_tomorrow_last() -> None:
    assert first_session_from_env({}) == date(1990, 1, 1)
    assert first_session_from_env({"QUANT_FIRST_SESSION": "2000-01-03"}) == date(2000, 1, 3)
    rng = SessionRange.current(now=datetime(2026, 11, 28, 23, 0, tzinfo=UTC))
    assert date(2026, 11, 29) in rng and date(2026, 11, 30) not in rng
    assert date(1989, 12, 31) not in rng
