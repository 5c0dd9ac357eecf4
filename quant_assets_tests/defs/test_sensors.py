from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.partitions.context import partition_loading_context

from quant_assets.definitions import build_defs
from quant_assets.defs.sensors import ingestion_rows, tick_lake_sensors
from quant_assets.defs.ticks import landing_files, tick_lake
from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import landing
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

SENSORS: dict[str, Any] = {s.name: s for s in tick_lake_sensors(Settings.from_env({}))}
landing_sensor = SENSORS["landing_sensor"]
landed_partitions_sensor = SENSORS["landed_partitions_sensor"]
ingestion_events_sensor = SENSORS["ingestion_events_sensor"]

CSV = "timestamp,bid,ask\n2024-01-02 15:00:00+00:00,1.10,1.11\n2024-01-03 15:00:00+00:00,1.1,1.2\n"


def evaluate(
    instance: dg.DagsterInstance, resource: ObjectStoreResource, cursor: str | None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"object_store": resource}
    )
    result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def ingest_all(instance: dg.DagsterInstance, resource: ObjectStoreResource) -> None:
    """Materialize landing_files for every file now in landing/incoming/."""
    for landed in landing.list_incoming(resource.get_store()):
        instance.add_dynamic_partitions("landing_files", [landed.partition_key])
        assert dg.materialize(
            [landing_files],
            partition_key=landed.partition_key,
            instance=instance,
            resources={"object_store": resource},
        ).success


def tick_landed(
    instance: dg.DagsterInstance, tmp_path: Path, cursor: str | None = None
) -> dg.SensorResult:
    defs = build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)}))
    context = dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor)
    # Validating partitioned run requests outside the daemon needs the instance in scope.
    with partition_loading_context(dynamic_partitions_store=instance):
        return landed_partitions_sensor.evaluate_tick(context)


def test_landing_sensor_new_file_requested_once_and_survives_cursor_loss(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    resource.get_store().write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())

    first = evaluate(instance, resource, None)
    assert [r.partition_key for r in first.run_requests or []] == ["truefx/eurusd-ticks.csv"]
    (add,) = first.dynamic_partitions_requests or []
    assert list(add.partition_keys or []) == ["truefx/eurusd-ticks.csv"]  # type: ignore[union-attr]
    instance.add_dynamic_partitions("landing_files", ["truefx/eurusd-ticks.csv"])

    again = evaluate(instance, resource, first.cursor)
    assert not again.run_requests and not again.dynamic_partitions_requests

    # A lost cursor re-requests with the same run key, which Dagster refuses to launch twice.
    lost = evaluate(instance, resource, None)
    assert [r.run_key for r in lost.run_requests or []] == [
        r.run_key for r in first.run_requests or []
    ]


def test_landing_sensor_replaced_file_requested_again(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    store = resource.get_store()
    store.write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())
    first = evaluate(instance, resource, None)
    store.write_bytes("landing/incoming/truefx/eurusd-ticks.csv", (CSV + CSV[18:]).encode())
    second = evaluate(instance, resource, first.cursor)
    assert len(second.run_requests or []) == 1
    assert json.loads(second.cursor or "{}") != json.loads(first.cursor or "{}")


def test_landed_partitions_sensor_requests_exactly_the_touched_partitions(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    resource.get_store().write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())
    ingest_all(instance, resource)

    result = tick_landed(instance, tmp_path)
    keys = sorted(str(r.partition_key) for r in result.run_requests or [])
    assert keys == ["2024-01-02|FX", "2024-01-03|FX"]
    # only the file's symbols of each market-session are rebuilt
    (config,) = {str(r.run_config) for r in result.run_requests or []}
    assert config == str({"ops": {"tick_lake_build": {"config": {"symbols": ["EURUSD"]}}}})
    assert instance.has_dynamic_partition("symbols", "EURUSD")
    # the cursor moved past the ingest: nothing is requested twice
    assert not tick_landed(instance, tmp_path, result.cursor).run_requests


def test_landed_partitions_sensor_two_ingests_between_ticks_builds_both(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    store = resource.get_store()
    store.write_bytes("landing/incoming/truefx/a/eurusd-ticks.csv", CSV.encode())
    store.write_bytes("landing/incoming/truefx/b/gbpusd-ticks.csv", CSV.encode())
    ingest_all(instance, resource)
    result = tick_landed(instance, tmp_path)
    assert sorted(str(r.partition_key) for r in result.run_requests or []) == [
        "2024-01-02|FX",
        "2024-01-02|FX",
        "2024-01-03|FX",
        "2024-01-03|FX",
    ]  # one build per ingest run and market-session, each with its own file's symbols


def test_ingestion_events_sensor_records_ingests_and_clean_partitions_once(
    tmp_path: Path,
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resource = ObjectStoreResource(root=str(tmp_path))
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb"))
    resource.get_store().write_bytes("landing/incoming/truefx/eurusd-ticks.csv", CSV.encode())
    ingest_all(instance, resource)
    assert dg.materialize(
        [tick_lake],
        partition_key="2024-01-02|FX",
        instance=instance,
        resources={"object_store": resource, "warehouse": warehouse},
    ).success

    def tick(cursor: str | None) -> str | None:
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"warehouse": warehouse}
        ) as context:
            ingestion_events_sensor(context)
            return context.cursor

    cursor = tick(None)
    tick(cursor)  # nothing new: no duplicate rows
    rows = (
        warehouse.get_warehouse()
        .query(
            "SELECT asset, partition_key, source, rows_in, rows_clean, reasons "
            "FROM ingestion_events ORDER BY asset"
        )
        .to_pylist()
    )
    assert rows == [
        {
            "asset": "clean_ticks",
            "partition_key": "2024-01-02|FX",
            "source": None,
            "rows_in": 1,
            "rows_clean": 1,
            "reasons": "{}",  # cleaned, no rule fired (NULL would mean "not recorded")
        },
        {
            "asset": "landing_files",
            "partition_key": "2024-01-02|FX,2024-01-03|FX",
            "source": "truefx",
            "rows_in": 2,
            "rows_clean": None,
            "reasons": None,
        },
    ]


def test_ingestion_rows_clean_backfill_reasons_per_partition_as_json() -> None:
    metadata = {
        "by_partition": {
            "2024-01-02|SPY": {
                "raw_rows": 10,
                "rows": 7,
                "quarantined_rows": 3,
                "quarantine_reasons": {"bounce": 2, "negative_price": 1},
            },
            "2024-01-03|SPY": {
                "raw_rows": 5,
                "rows": 5,
                "quarantined_rows": 0,
                "quarantine_reasons": {},
            },
        }
    }
    rows = ingestion_rows("clean_ticks", "r1", metadata, datetime(2024, 1, 4, tzinfo=UTC))
    assert [r["reasons"] for r in rows] == ['{"bounce": 2, "negative_price": 1}', "{}"]
