from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from quant_assets.lib.backup import backup_warehouse, latest_backup, restore_warehouse
from quant_assets.lib.backup.warehouse import BackupError
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.warehouse import TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse
from quant_assets_tests.services import temporary_database

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def _fill(dsn: str) -> None:
    with TimescaleWarehouse(dsn) as wh:
        wh.migrate()
        wh.upsert_training_run(TrainingRun("run-1", "ppo", started_at=T0, config={"lr": 3e-4}))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO metrics (time, run_id, name, step, value) "
            "SELECT %s + i * interval '1 second', 'run-1', 'train/loss', i, i * 0.5 "
            "FROM generate_series(0, 2999) AS i",
            (T0,),
        )


def _snapshot(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            "metrics": conn.execute("SELECT * FROM metrics ORDER BY step").fetchall(),
            "training_runs": conn.execute("SELECT * FROM training_runs").fetchall(),
        }


@pytest.fixture
def fresh_target(tsdb_dsn: str) -> Iterator[str]:
    with temporary_database(tsdb_dsn, prefix="restore") as dsn:
        with TimescaleWarehouse(dsn) as wh:
            wh.migrate()
        yield dsn


def test_restore_warehouse_fresh_database_gets_identical_rows(
    tsdb_database: str, fresh_target: str, tmp_path: Path
) -> None:
    _fill(tsdb_database)
    store = ObjectStore.local(tmp_path / "backup")
    manifest = backup_warehouse(tsdb_database, store)
    assert {t.table: t.rows for t in manifest.tables}["metrics"] == 3000
    assert latest_backup(store) == manifest
    restored = restore_warehouse(fresh_target, store, latest_backup(store))
    assert restored["metrics"] == 3000
    assert _snapshot(fresh_target) == _snapshot(tsdb_database)


def test_restore_warehouse_into_non_empty_database_refuses(
    tsdb_database: str, tmp_path: Path
) -> None:
    _fill(tsdb_database)
    store = ObjectStore.local(tmp_path / "backup")
    manifest = backup_warehouse(tsdb_database, store)
    with pytest.raises(BackupError, match="not empty"):
        restore_warehouse(tsdb_database, store, manifest)


def test_restore_warehouse_tampered_dump_refuses(
    tsdb_database: str, fresh_target: str, tmp_path: Path
) -> None:
    _fill(tsdb_database)
    store = ObjectStore.local(tmp_path / "backup")
    manifest = backup_warehouse(tsdb_database, store, now=T0 + timedelta(days=1))
    metrics = next(t for t in manifest.tables if t.table == "metrics")
    store.write_bytes(metrics.key, b"tampered")
    with pytest.raises(BackupError, match="checksum"):
        restore_warehouse(fresh_target, store, manifest)


def test_latest_backup_none_raises(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no complete"):
        latest_backup(ObjectStore.local(tmp_path))
