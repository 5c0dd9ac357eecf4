"""read_vendor_file / detect_source across every shared sample."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.ticks.adapters import (
    UnknownSourceError,
    detect_source,
    read_vendor_file,
)
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnsupportedFileError
from quant_assets.lib.ticks.adapters.registry import iter_vendor_reads
from quant_assets.lib.ticks.schema import TICK_SCHEMA, conform

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data" / "ticks"

CASES = [
    ("nautilus_trader/btcusdt-trades.parquet", "binance_trades", 2001),
    ("nautilus_trader/btcusdt-quotes.parquet", "binance_quotes", 451),
    ("nautilus_trader/usdjpy-ticks.csv", "truefx", 1000),
    ("nautilus_trader/bitmex_trades_XBTUSD.csv", "tardis", 10),
    ("nautilus_trader/huobi-dm-swap_quotes_BTC-USD.csv", "tardis", 10),
    ("nautilus_trader/futures_trades_2024-07-01T23-58_2024-07-02T00-02.dbn.zst", "databento", 120),
    ("nautilus_trader/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst", "databento", 2288),
    ("databento_python/XNAS.ITCH/test_data.trades.dbn.zst", "databento", 4),
    ("databento_python/XNAS.ITCH/test_data.mbp-1.dbn.zst", "databento", 4),
    ("databento_python/XNAS.ITCH/test_data.tbbo.dbn.zst", "databento", 8),
    ("databento_python/EQUS.MINI/test_data.trades.dbn.zst", "databento", 4),
    ("databento_python/EQUS.MINI/test_data.mbp-1.dbn.zst", "databento", 4),
    ("databento_python/EQUS.MINI/test_data.tbbo.dbn.zst", "databento", 8),
]


@pytest.mark.parametrize(("rel", "source", "rows"), CASES)
def test_read_vendor_file_detected_source_conforms_sorted_expected_rows(
    rel: str, source: str, rows: int
) -> None:
    path = DATA / rel
    if not path.is_file():
        pytest.skip(f"shared tick sample {path} not present")
    assert detect_source(path) == source
    table = read_vendor_file(path, source)
    assert table.num_rows == rows
    assert table.schema == TICK_SCHEMA
    assert conform(table).equals(table)
    ts = table.column("ts_event").combine_chunks()
    assert bool(pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py())


def test_read_vendor_file_out_of_order_rows_keep_vendor_order(tmp_path: Path) -> None:
    path = tmp_path / "usdjpy-ticks.csv"
    path.write_text(
        "timestamp,bid,ask\n"
        "2013-01-01 22:00:02+00:00,3,9\n"
        "2013-01-01 22:00:01+00:00,1,9\n"
        "2013-01-01 22:00:01+00:00,2,9\n"
    )
    table = read_vendor_file(path, "truefx")
    assert table.column("bid_price").to_pylist() == [3.0, 1.0, 2.0]


def test_read_vendor_file_symbol_override_wins(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("timestamp,bid,ask\n2013-01-01 22:00:02+00:00,3,9\n")
    table = read_vendor_file(path, "truefx", symbol="EURUSD")
    assert table.column("symbol").to_pylist() == ["EURUSD"]


def test_detect_source_unknown_header_raises(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UnknownSourceError):
        detect_source(path)


def test_read_vendor_file_unknown_source_raises(tmp_path: Path) -> None:
    with pytest.raises(UnknownSourceError):
        read_vendor_file(tmp_path / "x.csv", "no_such_vendor")


def test_detect_source_header_longer_than_block_named_with_its_length(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a," * 9_000_000 + "b\n1\n")
    with pytest.raises(MalformedFileError, match=r"line 1 is 18\.0 MB long"):
        detect_source(path)


def _tardis_trades(rows: int) -> str:
    """A Tardis ``trades`` CSV as its documentation describes it (µs epoch times, UUID ids)."""
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    t0 = 1_583_020_800_000_000
    for i in range(rows):
        side = ("buy", "sell", "unknown")[i % 3]
        lines.append(
            f"bitmex,XBTUSD,{t0 + i * 1_000},{t0 + i * 1_000 + 160},"
            f"{i:08x}-0000-4000-8000-000000000000,{side},{8500 + i % 7 * 0.5},{1 + i % 5}"
        )
    return "\n".join(lines) + "\n"


def test_iter_vendor_reads_tardis_gzip_streams_in_batches_equal_whole_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bitmex_trades_2020-03-01_XBTUSD.csv.gz"
    path.write_bytes(gzip.compress(_tardis_trades(3_000).encode()))
    batches = list(iter_vendor_reads(path, "tardis", block_size=16_384))
    assert len(batches) > 3
    streamed = pa.concat_tables([b.table for b in batches])
    assert streamed.equals(read_vendor_file(path, "tardis"))
    assert streamed.num_rows == 3_000


def test_iter_vendor_reads_tardis_unsupported_type_rejected_before_reading(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deribit_liquidations.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,open_interest\nx,y,1,2,3\n")
    with pytest.raises(UnsupportedFileError, match="unsupported Tardis data type"):
        next(iter_vendor_reads(path, "tardis"))


def test_iter_vendor_reads_zipped_tardis_bad_price_names_archive_member_line(
    tmp_path: Path,
) -> None:
    lines = _tardis_trades(3_000).splitlines()
    fields = lines[2500].split(",")
    fields[6] = "abc"  # the price
    lines[2500] = ",".join(fields)
    path = tmp_path / "trades.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bitmex_trades.csv", "\n".join(lines) + "\n")
    with pytest.raises(MalformedFileError) as info:
        list(iter_vendor_reads(path, "tardis", block_size=16_384))
    assert str(info.value).startswith(f"{path}!bitmex_trades.csv: line 2501")
    assert "price" in str(info.value)
