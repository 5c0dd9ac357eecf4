"""The landing zone on a real local object store: sessions, and faults that used to lose or jam
files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.rejections import RejectionKind
from quant_assets.lib.ticks.sessions import SessionRange

TARDIS_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
DAY1 = "bitmex,XBTUSD,1585699200245000,1585699200247000,a1,buy,6421.5,100\n"
DAY2 = "bitmex,XBTUSD,1585785600245000,1585785600247000,a2,buy,6422.5,100\n"


def _drop(store: ObjectStore, name: str, text: str, source: str = "auto") -> landing.LandedFile:
    key = f"{landing.INCOMING}/{source}/{name}"
    store.write_bytes(key, text.encode())
    (f,) = [f for f in landing.list_incoming(store) if f.key == key]
    return f


def test_ingest_file_replaced_during_ingest_stays_in_incoming(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    f = _drop(store, "t.csv", TARDIS_HEADER + DAY1)
    local_copy = store.local_copy

    def copy_then_replace(key: str, local: Path) -> None:  # the vendor re-uploads
        local_copy(key, local)
        store.write_bytes(key, (TARDIS_HEADER + DAY1 + DAY2).encode())

    store.local_copy = copy_then_replace  # type: ignore[method-assign]
    result = landing.ingest(store, f)
    assert result.changed_during_ingest
    assert store.exists(f.key)
    store.local_copy = local_copy  # type: ignore[method-assign]
    (again,) = landing.list_incoming(store)
    assert again.version != f.version and len(landing.ingest(store, again).partitions) == 2


def test_redrop_covering_fewer_days_removes_its_stale_rows(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    first = landing.ingest(store, _drop(store, "t.csv", TARDIS_HEADER + DAY1 + DAY2))
    assert len(first.partitions) == 2
    second = landing.ingest(store, _drop(store, "t.csv", TARDIS_HEADER + DAY2))
    assert [d.isoformat() for d, _ in second.removed] == ["2020-04-01"]
    staged = [k for k in store.list(landing.STAGED)]
    assert len(staged) == 1 and "day=02" in staged[0]


def test_names_colliding_after_sanitising_get_distinct_keys(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    a = _drop(store, "a b.csv", TARDIS_HEADER + DAY1)
    b = _drop(store, "a_b.csv", TARDIS_HEADER + DAY2)
    assert a.partition_key != b.partition_key
    assert b.partition_key == "auto/a_b.csv"
    assert landing.find_incoming(store, a.partition_key).key == a.key


def test_non_utf8_name_rejected_alone_and_other_files_listed(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    good = _drop(store, "good.csv", TARDIS_HEADER + DAY1)
    folder = os.fsencode(store.path(f"{landing.INCOMING}/auto"))
    with open(os.path.join(folder, b"bad\xff.csv"), "wb") as out:
        out.write(b"x")
    assert [f.key for f in landing.list_incoming(store)] == [good.key]
    reasons = [k for k in store.list(landing.REJECTED) if k.endswith(".reason.txt")]
    assert len(reasons) == 1
    assert "not UTF-8" in store.read_bytes(reasons[0]).decode()


def test_rejection_is_one_line_naming_the_landed_file_with_trace_in_reason_file(
    tmp_path: Path,
) -> None:
    store = ObjectStore.local(tmp_path)
    f = _drop(store, "t.csv", TARDIS_HEADER + DAY1 + "bitmex,XBTUSD,oops,1,a,buy,1,1\n")
    with pytest.raises(landing.FileRejected) as info:
        landing.ingest(store, f)
    message = str(info.value)
    assert "\n" not in message and message.startswith(store.uri(f.key))
    assert "line 3" in message and "'timestamp'" in message
    reason = store.read_bytes(f"{landing.REJECTED}/auto/t.csv.reason.txt").decode()
    assert "Traceback" in reason and not store.exists(f.key)


def test_filter_skipped_rows_reported_by_ingest(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    lobster = "34200.1,1,1,18,5853300,1\n34200.2,4,1,18,5853300,1\n"
    f = _drop(store, "AAPL_2012-06-21_0_1_message_1.csv", lobster, source="lobster_messages")
    result = landing.ingest(store, f)
    assert (result.rows, result.skipped_rows) == (1, 1)


def test_deliberately_unsupported_kind_is_rejected_as_unsupported(tmp_path: Path) -> None:
    name = "orderbooks_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.dbn.zst"
    sample = Path(__file__).resolve().parents[4] / "shared/data/ticks/nautilus_trader" / name
    if not sample.is_file():
        pytest.skip("shared DBN mbo sample not present")
    store = ObjectStore.local(tmp_path)
    key = f"{landing.INCOMING}/auto/{sample.name}"
    store.write_bytes(key, sample.read_bytes())
    (f,) = landing.list_incoming(store)
    with pytest.raises(landing.FileRejected) as info:
        landing.ingest(store, f)
    assert info.value.unsupported and info.value.kind is RejectionKind.UNSUPPORTED


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
    with pytest.raises(landing.FileRejected) as caught:
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


TAQ_HEADER = (
    "DATE,TIME_M,EX,SYM_ROOT,SYM_SUFFIX,TR_SCOND,SIZE,PRICE,TR_CORR,TR_SEQNUM,TR_SOURCE,TR_RF\n"
)


def _taq(n: int, day: str = "20240102") -> str:
    return "".join(
        f"{day},10:00:{i % 60:02d}.{i:06d},N,{'IBM' if i % 2 else 'AAPL'},,@,100,"
        f"{160 + i / 100:.2f},00,{i},C,\n"
        for i in range(n)
    )


def test_ingest_spill_budget_exceeded_stages_same_pieces(tmp_path: Path) -> None:
    roomy, tight = ObjectStore.local(tmp_path / "a"), ObjectStore.local(tmp_path / "b")
    text = TAQ_HEADER + _taq(3_000, "20240102") + _taq(3_000, "20240103")
    results = [
        landing.ingest(roomy, _drop(roomy, "taq.csv", text, "wrds_taq_trades")),
        landing.ingest(
            tight, _drop(tight, "taq.csv", text, "wrds_taq_trades"), spill_budget_bytes=1
        ),
    ]
    assert results[0].partitions == results[1].partitions
    assert sorted(results[0].partitions.values()) == [1_500] * 4
    for day in (date(2024, 1, 2), date(2024, 1, 3)):
        for symbol in ("AAPL", "IBM"):
            (a,) = landing.staged_pieces(roomy, day, symbol)
            (b,) = landing.staged_pieces(tight, day, symbol)
            assert a.equals(b)


def test_ingest_error_on_last_line_stages_nothing(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    bad = "20240102,10:00:00.5,N,IBM,,@,lots,160.00,00,9,C,\n"
    f = _drop(store, "taq.csv", TAQ_HEADER + _taq(3_000) + bad, "wrds_taq_trades")
    with pytest.raises(landing.FileRejected, match="line 3002"):
        landing.ingest(store, f, spill_budget_bytes=1)
    assert not list(store.list(landing.STAGED))


def test_ingest_partition_over_streamed_rows_staged_part_by_part_same_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, parts = ObjectStore.local(tmp_path / "a"), ObjectStore.local(tmp_path / "b")
    text = TAQ_HEADER + _taq(3_000, "20240102")
    landing.ingest(whole, _drop(whole, "taq.csv", text, "wrds_taq_trades"))
    streamed: list[str] = []
    write_tables = ObjectStore.write_parquet_tables

    def spy(self: ObjectStore, key: str, tables: Iterable[pa.Table], **options: Any) -> None:
        streamed.append(key)
        write_tables(self, key, tables, **options)

    monkeypatch.setattr(ObjectStore, "write_parquet_tables", spy)
    monkeypatch.setattr(landing, "STREAMED_PIECE_ROWS", 1_000)
    landing.ingest(parts, _drop(parts, "taq.csv", text, "wrds_taq_trades"), spill_budget_bytes=1)
    assert len(streamed) == 2  # AAPL and IBM, 1,500 rows each
    for symbol in ("AAPL", "IBM"):
        (a,) = landing.staged_pieces(whole, date(2024, 1, 2), symbol)
        (b,) = landing.staged_pieces(parts, date(2024, 1, 2), symbol)
        assert a.equals(b)
