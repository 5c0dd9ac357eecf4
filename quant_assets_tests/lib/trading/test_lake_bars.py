"""Bars read from the lake one session at a time equal bars of the whole window's ticks."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.cleaning import CleaningConfig
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.ticks.pipeline import build_symbol
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.trading import lake_bars
from quant_assets.lib.trading.bars import build_time_bars
from quant_assets.lib.trading.lake_bars import clean_bars

SESSIONS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]


@pytest.mark.parametrize("symbol", ["SYNA", "SYNC"])  # exchange hours and 24/7
def test_clean_bars_per_session_equal_whole_window_bars(tmp_path: Path, symbol: str) -> None:
    store = ObjectStore.local(tmp_path)
    source = synthetic_source(3_000, seed=1)
    entries = [build_symbol(store, day, symbol, synthetic=source) for day in SESSIONS]
    ticks, refs = load_clean_ticks(store, entries)
    expected = build_time_bars(ticks, "1min", symbol=symbol)
    bars, got_refs = clean_bars(store, entries, "1min")
    assert got_refs == refs and len(bars) == len(expected) > 100
    for name in ("ts", "open", "high", "low", "close", "volume", "vwap", "spread", "n_trades"):
        np.testing.assert_array_equal(getattr(bars, name), getattr(expected, name), err_msg=name)
    np.testing.assert_array_equal(bars.mid, expected.mid)
    np.testing.assert_array_equal(bars.quoted, expected.quoted)
    assert bars.symbol == expected.symbol


def test_clean_bars_several_symbols_rejected(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    source = synthetic_source(500, seed=1)
    entries = [build_symbol(store, SESSIONS[0], s, synthetic=source) for s in ("SYNA", "SYNB")]
    with pytest.raises(ValueError, match="several symbols"):
        clean_bars(store, entries)


@pytest.mark.parametrize("symbol", ["SYNA", "SYNC"])
def test_clean_bars_session_streamed_by_row_group_equal_whole_read(
    tmp_path: Path, symbol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ObjectStore.local(tmp_path)
    bounded = CleaningConfig(max_rows_in_memory=700)  # clean objects of many row groups
    source = synthetic_source(3_000, seed=1)
    entries = [
        build_symbol(store, day, symbol, cleaning=bounded, synthetic=source) for day in SESSIONS
    ]
    with store.open_consistent(entries[0].clean_key) as f:
        assert pq.ParquetFile(f).metadata.num_row_groups > 2
    expected, _ = clean_bars(store, entries, "1min")
    groups = []
    iter_row_groups = ObjectStore.iter_row_groups

    def counted(self: ObjectStore, key: str, columns: list[str] | None = None) -> Any:
        for group in iter_row_groups(self, key, columns):
            groups.append(group.num_rows)
            yield group

    monkeypatch.setattr(ObjectStore, "iter_row_groups", counted)
    monkeypatch.setattr(lake_bars, "STREAMED_SESSION_ROWS", 100)
    bars, _ = clean_bars(store, entries, "1min")
    assert len(groups) > 6 and max(groups) <= 700
    assert len(bars) == len(expected) > 100
    for name in ("ts", "open", "high", "low", "close", "volume", "vwap", "spread", "n_trades"):
        np.testing.assert_array_equal(getattr(bars, name), getattr(expected, name), err_msg=name)
