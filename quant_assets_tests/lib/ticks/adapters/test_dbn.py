"""Databento DBN adapter on the real DBN samples (nautilus_trader and databento-python)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.ticks.adapters.dbn import iter_dbn, read_dbn
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnsupportedFileError
from quant_assets.lib.ticks.schema import TICK_SCHEMA

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data" / "ticks"
FUTURES = "nautilus_trader/futures_{}_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"


def _real(rel: str) -> Path:
    path = DATA / rel
    if not path.is_file():
        pytest.skip(f"shared tick sample {path} not present (read-only data outside the repo)")
    return path


def _counts(table: pa.Table, column: str) -> dict[object, int]:
    return {d["values"]: d["counts"] for d in pc.value_counts(table.column(column)).to_pylist()}


def test_read_dbn_futures_trades_120_rows_symbol_from_metadata() -> None:
    table = read_dbn(_real(FUTURES.format("trades")))
    assert table.schema == TICK_SCHEMA
    assert table.num_rows == 120
    row = table.to_pylist()[0]
    assert (row["symbol"], row["exchange"], row["price"], row["side"]) == (
        "ESU4",
        "GLBX.MDP3",
        5528.75,
        "B",
    )
    assert row["sequence"] == 9060643
    assert row["ts_event"].isoformat().startswith("2024-07-01T23:58:01.218218")


def test_read_dbn_futures_mbp1_2288_rows_trades_match_trades_file() -> None:
    mbp = read_dbn(_real(FUTURES.format("mbp-1")))
    trades = read_dbn(_real(FUTURES.format("trades")))
    assert mbp.num_rows == 2288
    assert _counts(mbp, "record_type") == {"trade": 120, "quote": 2168}
    mbp_trades = mbp.filter(pc.equal(mbp.column("record_type"), "trade"))
    assert mbp_trades.column("price").to_pylist() == trades.column("price").to_pylist()
    assert _counts(mbp, "conditions").get("snapshot,bad_ts_recv") == 1


def test_read_dbn_xnas_mbp1_one_sided_book_gives_null_ask() -> None:
    table = read_dbn(_real("databento_python/XNAS.ITCH/test_data.mbp-1.dbn.zst"))
    first = table.to_pylist()[0]
    assert (first["bid_price"], first["ask_price"], first["ask_size"]) == (502.0, None, None)


def test_read_dbn_xnas_trade_without_aggressor_has_null_side() -> None:
    table = read_dbn(_real("databento_python/XNAS.ITCH/test_data.trades.dbn.zst"))
    assert table.num_rows == 4
    assert table.column("side").to_pylist() == ["B", "B", "S", None]


def test_read_dbn_tbbo_emits_quote_then_trade_per_record() -> None:
    table = read_dbn(_real("databento_python/XNAS.ITCH/test_data.tbbo.dbn.zst"))
    assert table.num_rows == 8
    assert table.column("record_type").to_pylist() == ["quote", "trade"] * 4
    q, t = table.slice(0, 2).to_pylist()
    assert q["ts_event"] == t["ts_event"] and (q["bid_price"], q["ask_price"]) == (520.0, 521.0)
    assert (t["price"], t["size"], t["side"]) == (521.0, 36.0, "B")


def test_read_dbn_equs_book_clear_kept_as_quote_without_prices() -> None:
    table = read_dbn(_real("databento_python/EQUS.MINI/test_data.mbp-1.dbn.zst"))
    clear = table.to_pylist()[0]
    assert (clear["record_type"], clear["conditions"]) == ("quote", "clear")
    assert clear["bid_price"] is None and clear["ask_price"] is None


def test_read_dbn_mbo_rejected_as_unsupported() -> None:
    path = _real("nautilus_trader/orderbooks_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.dbn.zst")
    with pytest.raises(UnsupportedFileError, match="mbo"):
        read_dbn(path)


def test_read_dbn_truncated_record_raises_malformed(tmp_path: Path) -> None:
    raw = pa.input_stream(str(_real(FUTURES.format("trades"))), compression="zstd").read()
    path = tmp_path / "cut.dbn"
    path.write_bytes(bytes(raw)[:-10])
    with pytest.raises(MalformedFileError) as info:
        read_dbn(path)
    assert info.value.line == 120 and "truncated" in info.value.problem


def test_read_dbn_truncated_zstd_raises_malformed(tmp_path: Path) -> None:
    data = _real(FUTURES.format("mbp-1")).read_bytes()
    path = tmp_path / "cut.dbn.zst"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedFileError, match="zstd"):
        read_dbn(path)


def test_read_dbn_not_dbn_raises_malformed(tmp_path: Path) -> None:
    path = tmp_path / "x.dbn"
    path.write_bytes(b"hello world")
    with pytest.raises(MalformedFileError, match="signature"):
        read_dbn(path)


@pytest.mark.parametrize(
    "rel",
    [
        FUTURES.format("mbp-1"),
        FUTURES.format("trades"),
        "databento_python/XNAS.ITCH/test_data.tbbo.dbn.zst",
        "databento_python/EQUS.MINI/test_data.mbp-1.dbn.zst",
    ],
)
def test_iter_dbn_small_chunks_equal_whole_read(rel: str) -> None:
    path = _real(rel)
    whole = read_dbn(path)
    batches = list(iter_dbn(path, chunk_bytes=1_000))  # records split across chunks
    assert len(batches) > 1 or whole.num_rows < 20
    assert pa.concat_tables(batches).equals(whole)


def test_iter_dbn_truncated_record_raised_after_the_batches(tmp_path: Path) -> None:
    raw = pa.input_stream(str(_real(FUTURES.format("trades"))), compression="zstd").read()
    path = tmp_path / "cut.dbn"
    path.write_bytes(bytes(raw)[:-10])
    batches = iter_dbn(path, chunk_bytes=1_000)
    with pytest.raises(MalformedFileError) as info:
        list(batches)
    assert info.value.line == 120 and "truncated" in info.value.problem
