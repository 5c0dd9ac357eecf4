"""landed_partitions_sensor requests one build per partition while a build of it still waits."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id

from quant_assets_tests.defs.test_sensors import CSV, ingest_all, tick_landed
from resources.object_store import ObjectStoreResource


def _queue_build(instance: dg.DagsterInstance, partition: str) -> None:
    instance.add_run(
        DagsterRun(
            job_name="tick_lake",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.NOT_STARTED,  # QUEUED needs a code location origin
            run_config={"ops": {"tick_lake_build": {"config": {"symbols": ["EURUSD"]}}}},
            tags={"dagster/partition": partition},
        )
    )


def test_landed_partitions_sensor_two_files_one_partition_one_build(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    store = resource.get_store()
    store.write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())
    store.write_bytes("landing/incoming/truefx/old/eurusd-ticks.csv", CSV.encode())
    ingest_all(instance, resource)
    keys = [str(r.partition_key) for r in tick_landed(instance, tmp_path).run_requests or []]
    assert sorted(keys) == ["2024-01-02|FX", "2024-01-03|FX"]


def test_landed_partitions_sensor_queued_build_not_requested_again(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    resource.get_store().write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())
    ingest_all(instance, resource)
    _queue_build(instance, "2024-01-02|FX")
    keys = [str(r.partition_key) for r in tick_landed(instance, tmp_path).run_requests or []]
    assert keys == ["2024-01-03|FX"]
