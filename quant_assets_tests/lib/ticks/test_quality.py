from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.manifest import ManifestEntry, ManifestStatus
from quant_assets.lib.ticks.quality import Coverage, coverage, quarantine_by_source
from quant_assets.lib.ticks.sessions import session_windows
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


def _entry(session: date, raw: int, clean: int) -> ManifestEntry:
    return ManifestEntry(
        session_date=session,
        symbol="SPY",
        market="XNYS",
        status=ManifestStatus.BUILT,
        raw_rows=raw,
        clean_rows=clean,
        quarantined_rows=raw - clean,
        raw_version="r",
        clean_version="c",
        quarantine_version="q",
        raw_key="raw.parquet",
        clean_key="clean.parquet",
        quarantine_key="quarantine.parquet",
    )


def test_coverage_open_session_empty_clean_fails() -> None:
    verdict = coverage(_entry(OPEN, raw=16, clean=0), min_share=0.0)
    assert (verdict.raw, verdict.clean, verdict.open_session) == (16, 0, True)
    assert not verdict.passed


def test_coverage_closed_day_empty_passes() -> None:
    assert coverage(_entry(CLOSED, raw=16, clean=0), min_share=0.5).passed


def test_coverage_below_share_of_raw_fails_above_passes() -> None:
    assert not Coverage(raw=1000, clean=5, open_session=True, min_share=0.01).passed
    assert Coverage(raw=1000, clean=10, open_session=True, min_share=0.01).passed


def test_quarantine_by_source_counts_each_source(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    entry = _entry(OPEN, raw=150, clean=110)
    raw = pa.concat_tables([_ticks(OPEN, 100, "databento"), _ticks(OPEN, 50, "tardis")])
    store.write_parquet(entry.raw_key, raw)
    store.write_parquet(entry.quarantine_key, _ticks(OPEN, 40, "tardis"))
    rates = quarantine_by_source(store, replace(entry))
    assert rates["databento"].share == 0.0
    assert rates["tardis"].quarantined == 40
    assert rates["tardis"].share == 40 / rates["tardis"].raw
