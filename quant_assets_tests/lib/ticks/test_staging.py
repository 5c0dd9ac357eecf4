"""A file's rows grouped by partition through a bounded, spilling buffer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.ticks.staging import PartitionSpill

A = (date(2024, 1, 2), "AAPL")
B = (date(2024, 1, 2), "IBM")


def _t(values: list[int]) -> pa.Table:
    return pa.table({"x": pa.array(values, pa.int64())})


def test_partition_spill_over_budget_spills_and_keeps_file_order(tmp_path: Path) -> None:
    spill = PartitionSpill(tmp_path / "s", budget_bytes=1)  # every add goes to disk
    spill.add({A: _t([1, 2]), B: _t([10])})
    spill.add({A: _t([3])})
    spill.add({B: _t([11, 12])})
    assert spill.spills == 3 and spill.rows == {A: 3, B: 3}
    out = {k: t.column("x").to_pylist() for k, t in spill.tables()}
    assert out == {A: [1, 2, 3], B: [10, 11, 12]}
    assert not list((tmp_path / "s").iterdir())  # parts deleted once read


def test_partition_spill_under_budget_stays_in_memory(tmp_path: Path) -> None:
    spill = PartitionSpill(tmp_path / "s")
    spill.add({A: _t([1]), B: _t([])})
    spill.add({A: _t([2])})
    assert spill.spills == 0 and spill.rows == {A: 2}
    assert [(k, t.num_rows) for k, t in spill.tables()] == [(A, 2)]
    assert not (tmp_path / "s").exists()


def test_partition_spill_partitions_one_table_per_spilled_part(tmp_path: Path) -> None:
    spill = PartitionSpill(tmp_path / "s", budget_bytes=1)
    for values in ([1, 2], [3], [4, 5]):
        spill.add({A: _t(values)})
    ((key, rows, pieces),) = list(spill.partitions())
    assert (key, rows) == (A, 5)
    assert [t.column("x").to_pylist() for t in pieces] == [[1, 2], [3], [4, 5]]
    assert not list((tmp_path / "s").iterdir())
