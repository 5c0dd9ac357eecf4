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
