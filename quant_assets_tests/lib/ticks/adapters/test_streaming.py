"""Vendor files read in record batches: same rows as a whole read, errors still located."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapped_reader import read_mapped
from quant_assets.lib.ticks.adapters.mapping import VendorMapping, load_mapping
from quant_assets.lib.ticks.adapters.streaming import iter_mapped_reads

TAQ_HEADER = (
    "DATE,TIME_M,EX,SYM_ROOT,SYM_SUFFIX,TR_SCOND,SIZE,PRICE,TR_CORR,TR_SEQNUM,TR_SOURCE,TR_RF\n"
)


def _taq_rows(n: int) -> str:
    return "".join(
        f"20240102,09:30:{i % 60:02d}.{i:06d},N,{'IBM' if i % 3 else 'AAPL'},,@,100,"
        f"{160 + i / 100:.2f},{'08' if i % 7 == 0 else '00'},{1000 + i},C,\n"
        for i in range(n)
    )


def test_iter_mapped_reads_small_blocks_equal_whole_read(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    path.write_text(TAQ_HEADER + _taq_rows(2_000))
    m = load_mapping("wrds_taq_trades")
    reads = list(iter_mapped_reads(path, m, block_size=4_096))
    assert len(reads) > 10  # really several batches
    streamed = pa.concat_tables([r.table for r in reads])
    assert streamed.equals(read_mapped(path, m))
    assert sum(r.rows_read for r in reads) == 2_000


def test_iter_mapped_reads_bad_value_in_late_batch_names_file_line(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    rows = _taq_rows(1_500).splitlines(keepends=True)
    rows[1_234] = rows[1_234].replace(",@,100,", ",@,lots,")
    path.write_text(TAQ_HEADER + "".join(rows))
    with pytest.raises(MalformedFileError) as info:
        list(iter_mapped_reads(path, load_mapping("wrds_taq_trades"), block_size=4_096))
    assert (info.value.line, info.value.column) == (1_236, "SIZE")


def test_iter_mapped_reads_parquet_row_groups_equal_whole_read(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    n = 1_000
    pq.write_table(
        pa.table({"t": pa.array(range(n), pa.int64()), "p": pa.array([1.0 + i for i in range(n)])}),
        path,
        row_group_size=100,
    )
    m = VendorMapping.model_validate(
        {
            "name": "t",
            "format": "parquet",
            "record_type": "trade",
            "symbol": "X",
            "columns": {"ts_event": "t", "price": "p"},
            "time": {"unit": "s"},
        }
    )
    streamed = pa.concat_tables([r.table for r in iter_mapped_reads(path, m)])
    assert streamed.equals(read_mapped(path, m))


def _one_sided_quotes(n: int) -> str:
    """Quote updates of one side at a time on three venues over two sessions (the second day
    starts with carried sides that must be reset)."""
    rows = ["t,sym,ex,b,bs,a,as"]
    for i in range(n):
        day = "02" if i < n // 2 else "03"
        t = f"2024-01-{day}T{14 + (i % (n // 2)) * 6 // n:02d}:{(i * 7) % 60:02d}:{i % 60:02d}Z"
        ex = "NPQ"[i % 3]
        sym = "IBM" if i % 5 else "AAPL"
        bid, ask = (f"{100 + i % 7 / 100:.2f}", "0") if i % 2 else ("0", f"{101 + i % 5 / 100:.2f}")
        rows.append(f"{t},{sym},{ex},{bid},{i % 9 + 1},{ask},{i % 4 + 1}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("book", ["venue", "consolidated"])
def test_iter_mapped_reads_quote_book_small_batches_equal_whole_read(
    tmp_path: Path, book: str
) -> None:
    path = tmp_path / "q.csv"
    path.write_text(_one_sided_quotes(3_000))
    m = VendorMapping.model_validate(
        {
            "name": "q",
            "format": "csv",
            "record_type": "quote",
            "columns": {
                "ts_event": "t",
                "symbol": "sym",
                "exchange": "ex",
                "bid_price": "b",
                "bid_size": "bs",
                "ask_price": "a",
                "ask_size": "as",
            },
            "time": {"format": "iso"},
            "nulls": {"bid_price": ["0"], "ask_price": ["0"]},
            "quote_book": book,
        }
    )
    reads = list(iter_mapped_reads(path, m, block_size=4_096))
    assert len(reads) > 10
    streamed = pa.concat_tables([r.table for r in reads])
    whole = read_mapped(path, m)
    assert streamed.equals(whole)
    assert whole.column("bid_price").null_count < 50  # really carried


COINBASE_MATCH = (
    '{i} {{"type":"match","trade_id":{i},"sequence":{i},"time":"2023-11-14T22:13:20.{k:06d}Z",'
    '"product_id":"BTC-USD","size":"0.5","price":"400.{p:02d}","side":"sell"}}'
)


def test_iter_mapped_reads_json_lines_small_chunks_equal_whole_read(tmp_path: Path) -> None:
    path = tmp_path / "ws.jsonl"
    lines = [COINBASE_MATCH.format(i=1700000000000000000 + i, k=i, p=i % 100) for i in range(1_000)]
    lines[500] = '1700000000000000500 {"type":"heartbeat","product_id":"BTC-USD"}'
    path.write_text("\n".join(lines) + "\n")
    m = load_mapping("coinbase_ws")
    reads = list(iter_mapped_reads(path, m, block_size=8_192))
    assert len(reads) > 10
    assert pa.concat_tables([r.table for r in reads]).equals(read_mapped(path, m))
    assert sum(r.skipped for r in reads) == 1


def test_iter_mapped_reads_json_lines_bad_line_in_late_chunk_names_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ws.jsonl"
    lines = [COINBASE_MATCH.format(i=1700000000000000000 + i, k=i, p=i % 100) for i in range(1_000)]
    lines[876] = lines[876].replace('"size":"0.5"', '"size":"half"')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedFileError) as info:
        list(iter_mapped_reads(path, load_mapping("coinbase_ws"), block_size=8_192))
    assert (info.value.line, info.value.column) == (877, "size")


def test_iter_mapped_reads_line_longer_than_block_named_with_its_length(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    path.write_text(TAQ_HEADER + _taq_rows(10) + "x" * 20_000 + "\n" + _taq_rows(10))
    with pytest.raises(MalformedFileError, match=r"line 12 is 0\.0 MB long"):
        list(iter_mapped_reads(path, load_mapping("wrds_taq_trades"), block_size=8_192))
