from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.sessions import SessionRange

NY = ZoneInfo("America/New_York")
HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def trade(when: datetime, i: int, symbol: str = "AAPL") -> str:
    us = int(when.timestamp() * 1e6)
    return f"xnas,{symbol},{us},{us + 5},{i},buy,{190 + i / 100:.2f},10\n"


def land(store: ObjectStore, name: str, text: str) -> landing.LandedFile:
    store.write_bytes(f"{landing.INCOMING}/auto/{name}", text.encode())
    (landed,) = [f for f in landing.list_incoming(store) if f.name == name]
    return landed


def test_ingest_equity_pre_market_regular_and_8pm_prints_land_in_one_session(
    tmp_path: Path,
) -> None:
    store = ObjectStore.local(tmp_path)
    prints = [
        datetime(2024, 1, 2, 4, 0, tzinfo=NY),  # pre-market (09:00 UTC)
        datetime(2024, 1, 2, 10, 0, tzinfo=NY),  # regular hours
        datetime(2024, 1, 2, 20, 0, tzinfo=NY),  # after hours: 01:00 UTC on 2024-01-03
    ]
    landed = land(store, "aapl.csv", HEADER + "".join(trade(t, i) for i, t in enumerate(prints)))
    result = landing.ingest(store, landed)
    assert result.partitions == {(date(2024, 1, 2), "AAPL"): 3}
    (piece,) = landing.staged_pieces(store, date(2024, 1, 2), "AAPL")
    assert piece.num_rows == 3
    assert not landing.staged_pieces(store, date(2024, 1, 3), "AAPL")


@pytest.mark.parametrize(
    ("when", "bound"),
    [
        (datetime(1970, 1, 2, 15, 0, tzinfo=UTC), "before"),
        (datetime(2099, 1, 2, 15, 0, tzinfo=UTC), "after"),
    ],
)
def test_ingest_out_of_range_ticks_file_rejected_alone_naming_line_column_and_range(
    tmp_path: Path, when: datetime, bound: str
) -> None:
    store = ObjectStore.local(tmp_path)
    good = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
    bad = land(store, "bad.csv", HEADER + trade(good, 0) + trade(when, 1))
    ok = land(store, "ok.csv", HEADER + trade(good, 2, "MSFT"))
    allowed = SessionRange(date(1990, 1, 1), date(2026, 11, 29))
    with pytest.raises(MalformedFileError) as caught:
        landing.ingest(store, bad, allowed)
    message = str(caught.value)
    assert "bad.csv: line 3, column 'timestamp'" in message, bound
    assert "allowed sessions 1990-01-01 to 2026-11-29" in message
    reason = store.read_bytes(f"{landing.REJECTED}/auto/bad.csv.reason.txt").decode()
    assert "line 3, column 'timestamp'" in reason
    assert not store.exists(f"{landing.ARCHIVE}/auto/bad.csv")
    assert not list(store.list(landing.STAGED))  # nothing of the rejected file was staged
    assert landing.ingest(store, ok, allowed).partitions == {(date(2024, 1, 2), "MSFT"): 1}


def test_ingest_todays_session_ticks_accepted(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    now = datetime.now(tz=UTC)
    landed = land(store, "btc.csv", HEADER + trade(now, 0, "BTCUSDT"))
    result = landing.ingest(store, landed)
    assert result.partitions == {(now.date(), "BTCUSDT"): 1}
