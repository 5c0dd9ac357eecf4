"""Retention wiring on the local deployment (DuckDB + local object store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pyarrow as pa

from quant_assets.defs.retention import (
    LOCAL_NO_LIFECYCLE,
    bucket_lifecycle,
    metrics_archive,
    nightly_retention,
    retention_job,
)
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.warehouse import METRIC_SCHEMA, TrainingRun
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource


def seed(path: Path, days_ago: list[int]) -> None:
    now = datetime.now(tz=UTC)
    with DuckDBWarehouse(path) as wh:
        wh.migrate()
        wh.upsert_training_run(TrainingRun("run-1", "ppo", now - timedelta(days=200)))
        rows = [
            {
                "time": now - timedelta(days=d),
                "run_id": "run-1",
                "name": "loss",
                "step": d,
                "value": 1.0,
            }
            for d in days_ago
        ]
        wh.write_metrics(pa.Table.from_pylist([{**r, "value": 1.0} for r in rows], METRIC_SCHEMA))


def test_retention_job_local_archives_old_days_and_skips_lifecycle(tmp_path: Path) -> None:
    seed(tmp_path / "wh.duckdb", days_ago=[150, 120, 100, 1])
    resources = {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
    }
    defs = dg.Definitions(
        assets=[metrics_archive, bucket_lifecycle],
        jobs=[retention_job],
        schedules=[nightly_retention],
        resources=resources,
    )

    result = defs.resolve_job_def("retention_job").execute_in_process(
        run_config={"ops": {"metrics_archive": {"config": {"older_than_days": 90}}}}
    )

    assert result.success
    meta = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["metrics_archive"]["rows_archived"].value == 3
    assert meta["bucket_lifecycle"]["status"].value == LOCAL_NO_LIFECYCLE
    assert len(list(ObjectStore.local(tmp_path / "lake").list("metrics_archive"))) == 3
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        assert wh.query("SELECT step FROM metrics").column("step").to_pylist() == [1]


def test_nightly_retention_schedule_targets_retention_job_at_3_utc() -> None:
    assert nightly_retention.job_name == "retention_job"
    assert nightly_retention.cron_schedule == "0 3 * * *"
    assert nightly_retention.execution_timezone == "UTC"
