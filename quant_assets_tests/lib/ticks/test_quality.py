from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.instruments import session_windows
from quant_assets.lib.ticks.lake import Dataset, partition_object
from quant_assets.lib.ticks.quality import Coverage, coverage, quarantine_by_source
from quant_assets.lib.ticks.schema import empty_ticks
from quant_assets.lib.ticks.synthetic import SyntheticConfig, generate_ticks

OPEN = date(2024, 1, 3)  # Wednesday
CLOSED = date(2024, 1, 6)  # Saturday


def _ticks(day: date, n: int, source: str = "synthetic") -> pa.Table:
    windows = session_windows("XNYS", day)
    table = generate_ticks(
        "SPY", int(windows[0, 0]), int(windows[-1, 1]), SyntheticConfig(seed=1), n_ticks=n
    ).table
    return table.set_column(
        table.schema.get_field_index("source"), "source", pa.array([source] * table.num_rows)
    )


def _write(store: ObjectStore, dataset: Dataset, day: date, table: pa.Table) -> None:
    store.write_parquet(partition_object(dataset, day, "SPY"), table)


def test_coverage_open_session_empty_clean_fails(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    _write(store, Dataset.RAW, OPEN, _ticks(OPEN, 16))
    _write(store, Dataset.CLEAN, OPEN, empty_ticks())
    verdict = coverage(store, OPEN, "SPY", min_share=0.0)
    assert (verdict.raw, verdict.clean, verdict.open_session) == (16, 0, True)
    assert not verdict.passed


def test_coverage_below_share_of_raw_fails_above_passes() -> None:
    assert not Coverage(raw=1000, clean=5, open_session=True, min_share=0.01).passed
    assert Coverage(raw=1000, clean=10, open_session=True, min_share=0.01).passed


def test_coverage_closed_day_empty_passes() -> None:
    assert Coverage(raw=0, clean=0, open_session=False, min_share=0.5).passed


def test_quarantine_by_source_counts_each_source(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    raw = pa.concat_tables([_ticks(OPEN, 100, "databento"), _ticks(OPEN, 50, "tardis")])
    _write(store, Dataset.RAW, OPEN, raw)
    _write(store, Dataset.QUARANTINE, OPEN, _ticks(OPEN, 40, "tardis"))
    rates = quarantine_by_source(store, OPEN, "SPY")
    assert rates["databento"].share == 0.0
    assert rates["tardis"].quarantined == 40
    assert rates["tardis"].share == 40 / rates["tardis"].raw
