"""Retention on both real backends (DuckDB file, TimescaleDB) into a local and an S3 store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.warehouse import METRIC_SCHEMA, Warehouse
from quant_assets.lib.warehouse.retention import (
    ARCHIVE_PREFIX,
    ArchiveRange,
    archive_old_metrics,
    retention_cutoff,
)

NOW = datetime(2025, 6, 30, 12, 30, tzinfo=UTC)
CUTOFF = datetime(2025, 4, 1, tzinfo=UTC)  # start of the UTC day 90 days before NOW
DAYS = 200
SORT = [
    ("time", "ascending"),
    ("run_id", "ascending"),
    ("name", "ascending"),
    ("step", "ascending"),
]


class SimulatedCrash(RuntimeError):
    pass


def metrics_200_days(run_id: str) -> pa.Table:
    """Two metrics every 3 hours for 200 days up to NOW (explicit, old timestamps)."""
    start = NOW - timedelta(days=DAYS)
    times = [start + timedelta(hours=3 * i) for i in range(DAYS * 8)]
    rows = [
        {"time": t, "run_id": run_id, "name": name, "step": i, "value": float(i) + k / 10}
        for i, t in enumerate(times)
        for k, name in enumerate(("train/reward", "train/loss"))
    ]
    return pa.Table.from_pylist(rows, schema=METRIC_SCHEMA)


def archived(store: ObjectStore) -> pa.Table:
    keys = list(store.list(ARCHIVE_PREFIX))
    tables = [store.read_parquet(k) for k in keys]
    return pa.concat_tables(tables).sort_by(SORT) if tables else METRIC_SCHEMA.empty_table()


def in_warehouse(wh: Warehouse) -> pa.Table:
    table = wh.query("SELECT time, run_id, name, step, value FROM metrics")
    return table.cast(METRIC_SCHEMA).sort_by(SORT)


def seeded(wh: Warehouse, register_run: Callable[..., str]) -> pa.Table:
    table = metrics_200_days(register_run(wh))
    assert wh.write_metrics(table) == table.num_rows
    return table.sort_by(SORT)


def split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    old = pc.less(table.column("time"), pa.scalar(CUTOFF, METRIC_SCHEMA.field("time").type))
    return table.filter(old), table.filter(pc.invert(old))


def test_retention_cutoff_whole_utc_days_before_now() -> None:
    assert retention_cutoff(NOW, 90) == CUTOFF
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_cutoff(datetime(2025, 6, 30), 90)  # noqa: DTZ001


def test_archive_old_metrics_200_days_archives_exactly_old_rows_then_noop(
    warehouse: Warehouse, store: ObjectStore, register_run: Callable[..., str]
) -> None:
    old, recent = split(seeded(warehouse, register_run))

    report = archive_old_metrics(warehouse, store, older_than_days=90, now=NOW)

    assert report.cutoff == CUTOFF
    assert report.rows_archived == old.num_rows
    assert report.ranges_pending == []
    assert archived(store).equals(old)
    assert in_warehouse(warehouse).equals(recent)
    for key in store.list(ARCHIVE_PREFIX):  # each file sits under the UTC day of its rows
        day = {p.split("=")[0]: p.split("=")[1] for p in key.split("/")[1:4]}
        times = store.read_parquet(key, columns=["time"]).column("time")
        first = pc.min(times).as_py()
        assert (f"{first:%Y}", f"{first:%m}", f"{first:%d}") == (
            day["year"],
            day["month"],
            day["day"],
        )
        assert key.split("/")[4].startswith("chunk=")
    versions = {i.key: i.version for i in store.list_info(ARCHIVE_PREFIX)}

    again = archive_old_metrics(warehouse, store, older_than_days=90, now=NOW)

    assert again.outcomes == []
    assert {i.key: i.version for i in store.list_info(ARCHIVE_PREFIX)} == versions
    assert in_warehouse(warehouse).equals(recent)


def test_archive_old_metrics_crash_between_export_and_drop_recovers_without_loss(
    warehouse: Warehouse, tmp_path: Path, register_run: Callable[..., str]
) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    old, recent = split(seeded(warehouse, register_run))
    exported: list[ArchiveRange] = []

    def crash_on_third(rng: ArchiveRange) -> None:
        exported.append(rng)
        if len(exported) == 3:
            raise SimulatedCrash(rng.label)

    with pytest.raises(SimulatedCrash):
        archive_old_metrics(warehouse, store, now=NOW, after_export=crash_on_third)
    crashed = exported[-1]
    assert store.exists(crashed.key)  # exported ...
    left = warehouse.query(
        "SELECT count(*) AS n FROM metrics WHERE time >= :s AND time < :e",
        {"s": crashed.start, "e": crashed.end},
    )
    assert left.column("n")[0].as_py() > 0  # ... but not dropped

    report = archive_old_metrics(warehouse, store, now=NOW)

    assert [o.action for o in report.outcomes].count("reverified") == 1
    assert report.outcomes[0].range == crashed
    assert archived(store).equals(old)  # every old row once: nothing lost, nothing twice
    assert in_warehouse(warehouse).equals(recent)


def test_archive_old_metrics_late_row_after_export_kept_then_merged_once(
    warehouse: Warehouse, tmp_path: Path, register_run: Callable[..., str]
) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    old, _ = split(seeded(warehouse, register_run))
    late: list[pa.Table] = []

    def late_write(rng: ArchiveRange) -> None:
        if not late:  # a spool replay landing in the first range between export and delete
            row = {"time": rng.start + timedelta(minutes=7), "run_id": "run-1", "name": "late"}
            late.append(pa.Table.from_pylist([{**row, "step": 1, "value": 1.0}], METRIC_SCHEMA))
            assert warehouse.write_metrics(late[0]) == 1

    first = archive_old_metrics(warehouse, store, now=NOW, after_export=late_write)

    assert len(first.ranges_pending) == 1  # the changed range is kept, not dropped
    second = archive_old_metrics(warehouse, store, now=NOW)
    assert [(o.action, o.rows, o.deleted) for o in second.outcomes] == [
        ("merged", first.outcomes[0].rows + 1, True)
    ]
    assert archived(store).equals(pa.concat_tables([old, late[0]]).sort_by(SORT))
