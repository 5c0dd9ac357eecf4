"""Exact statistics over spill columns equal numpy's over the same values in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quant_assets.lib.ticks import spill_columns
from quant_assets.lib.ticks.spill_columns import SpillColumn, exact_median, select_kth


def _column(tmp_path: Path, values: np.ndarray) -> SpillColumn:
    col = SpillColumn(tmp_path / "values", np.float64)
    for part in np.array_split(values, 3):
        col.append(part)
    return col


@pytest.mark.parametrize("n", [1, 2, 7, 1_000, 1_001])
def test_exact_median_random_and_tied_values_equal_np_median(
    tmp_path: Path, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill_columns, "SELECT_IN_MEMORY", 10)  # force the radix passes
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(0.0, 1.0, n), 1)  # many ties, both signs, zeros
    assert exact_median(_column(tmp_path, values)) == np.median(values)


def test_select_kth_all_equal_values_found_without_gathering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill_columns, "SELECT_IN_MEMORY", 10)
    values = np.full(500, 0.010000000000005116)
    col = _column(tmp_path, values)
    assert select_kth(col, 0) == select_kth(col, 499) == values[0]


def test_spill_column_write_at_then_read_slice_round_trip(tmp_path: Path) -> None:
    col = SpillColumn(tmp_path / "codes", np.int8)
    col.append(np.arange(10, dtype=np.int8))
    col.write_at(3, np.array([9, 9], dtype=np.int8))
    assert col.read(2, 6).tolist() == [2, 9, 9, 5]
    assert len(col) == 10 and col.read(8, 20).tolist() == [8, 9]
