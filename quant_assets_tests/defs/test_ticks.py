from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.compute as pc
import pytest

from quant_assets.defs.tick_checks import (
    clean_ticks_expectations,
    clean_ticks_freshness,
    clean_ticks_reconcile,
)
from quant_assets.defs.ticks import landing_files, tick_lake
from quant_assets.lib.settings import Settings
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing, manifest
from quant_assets.lib.ticks.manifest import ManifestEntry
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ticks"
TICK_ASSETS = [
    tick_lake,
    clean_ticks_expectations,
    clean_ticks_reconcile,
    clean_ticks_freshness,
]
SMALL = {"ops": {"tick_lake": {"config": {"synthetic_ticks_per_session": 3000}}}}


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def warehouse_for(resource: ObjectStoreResource) -> WarehouseResource:
    return WarehouseResource(duckdb_path=f"{resource.root}/wh.duckdb")


def build_partition(
    instance: dg.DagsterInstance,
    resource: ObjectStoreResource,
    key: str,
    symbols: list[str] | None = None,
    warehouse: WarehouseResource | None = None,
) -> dg.ExecuteInProcessResult:
    """Build a session|market partition; ``symbols`` are registered (synthetic ones are then
    generated), and ``warehouse`` defaults to a DuckDB file beside the local lake."""
    instance.add_dynamic_partitions("symbols", symbols or [])
    return dg.materialize(
        TICK_ASSETS,
        partition_key=key,
        instance=instance,
        resources={"object_store": resource, "warehouse": warehouse or warehouse_for(resource)},
        run_config=SMALL,
    )


def entries(resource: ObjectStoreResource, key: str) -> list[ManifestEntry]:
    session, market = key.split("|")
    wh = warehouse_for(resource).get_warehouse()
    try:
        return manifest.session_entries(wh, date.fromisoformat(session), market)
    finally:
        wh.close()


def rows(result: dg.ExecuteInProcessResult, asset: str) -> int:
    for event in result.get_asset_materialization_events():
        if event.materialization.asset_key == dg.AssetKey(asset):
            return int(event.materialization.metadata["rows"].value)  # type: ignore[arg-type]
    raise AssertionError(f"{asset} not materialized")


def test_tick_lake_synthetic_partition_materializes_with_passing_checks(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resource = ObjectStoreResource(root=str(tmp_path))
    result = build_partition(instance, resource, "2024-01-02|XNYS", ["SYNA"])
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "clean_ticks_expectations": True,
        "clean_ticks_reconcile": True,
        "clean_ticks_freshness": True,
    }
    assert rows(result, "raw_ticks") == 3000
    assert rows(result, "clean_ticks") + rows(result, "tick_quarantine") == 3000
    assert rows(result, "tick_quarantine") > 0  # the generator injects known bad ticks
    store = resource.get_store()
    (entry,) = entries(resource, "2024-01-02|XNYS")
    assert (entry.symbol, entry.status, entry.raw_rows) == ("SYNA", "built", 3000)
    assert entry.raw_key.startswith("ticks_raw/year=2024/month=01/day=02/symbol=SYNA/part-")
    assert entry.clean_key.startswith("ticks_clean/year=2024/month=01/day=02/symbol=SYNA/")
    for key in entry.keys().values():
        assert store.exists(key)


def test_tick_lake_rematerialize_replaces_partition_without_duplicates(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resource = ObjectStoreResource(root=str(tmp_path))
    first = build_partition(instance, resource, "2024-01-03|XNYS", ["SYNB"])
    second = build_partition(instance, resource, "2024-01-03|XNYS", ["SYNB"])
    assert rows(first, "raw_ticks") == rows(second, "raw_ticks") == 3000
    keys = list(resource.get_store().list("ticks_raw"))
    (entry,) = entries(resource, "2024-01-03|XNYS")
    assert keys == [entry.raw_key]


def test_tick_lake_closed_exchange_day_gives_empty_partition(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resource = ObjectStoreResource(root=str(tmp_path))
    result = build_partition(instance, resource, "2024-01-06|XNYS", ["SYNA"])  # a Saturday
    assert result.success
    assert rows(result, "raw_ticks") == 0


def land(store: ObjectStore, source: Path, relative: str) -> landing.LandedFile:
    store.write_bytes(f"{landing.INCOMING}/{relative}", source.read_bytes())
    (landed,) = [f for f in landing.list_incoming(store) if f.relative == relative]
    return landed


def ingest(
    instance: dg.DagsterInstance, resource: ObjectStoreResource, landed: landing.LandedFile
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("landing_files", [landed.partition_key])
    return dg.materialize(
        [landing_files],
        partition_key=landed.partition_key,
        instance=instance,
        resources={"object_store": resource},
        raise_on_error=False,
    )


@pytest.mark.skipif(not SHARED.exists(), reason="shared tick samples not present")
def test_landing_real_truefx_file_ingested_cleaned_and_archived(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resource = ObjectStoreResource(root=str(tmp_path))
    store = resource.get_store()
    landed = land(store, SHARED / "nautilus_trader" / "usdjpy-ticks.csv", "auto/usdjpy-ticks.csv")
    result = ingest(instance, resource, landed)
    assert result.success
    assert instance.has_dynamic_partition("symbols", "USDJPY")
    assert store.exists("landing/archive/auto/usdjpy-ticks.csv")
    assert not list(store.list(landing.INCOMING))
    built = build_partition(instance, resource, "2013-01-01|FX")
    assert built.success
    assert rows(built, "raw_ticks") == 1000
    # 35 minutes of quotes end 85 min before the 24/5 session close: a warning, not a block
    (freshness,) = [
        e for e in built.get_asset_check_evaluations() if e.check_name == "clean_ticks_freshness"
    ]
    assert not freshness.passed and freshness.severity == dg.AssetCheckSeverity.WARN
    (entry,) = entries(resource, "2013-01-01|FX")
    quarantine = store.read_parquet(entry.quarantine_key)
    # the README's "bid equal to ask" row is the locked quote
    assert pc.value_counts(quarantine.column("reason")).to_pylist() == [
        {"values": "locked_quote", "counts": 1}
    ]


def test_landing_malformed_file_fails_own_partition_and_is_rejected_with_reason(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    resource = ObjectStoreResource(root=str(tmp_path))
    store = resource.get_store()
    header = "timestamp,bid,ask\n"
    good = tmp_path / "eurusd-ticks.csv"
    good.write_text(header + "2024-01-02 15:00:00.000+00:00,1.10,1.11\n")
    bad = tmp_path / "gbpusd-ticks.csv"
    bad.write_text(
        header + "2024-01-02 15:00:00+00:00,1.10,1.11\n2024-01-02 15:00:01+00:00,oops,1.12\n"
    )
    bad_landed = land(store, bad, "truefx/bad/gbpusd-ticks.csv")
    good_landed = land(store, good, "truefx/good/eurusd-ticks.csv")

    failed = ingest(instance, resource, bad_landed)
    assert not failed.success
    message = failed.get_step_failure_events()[0].step_failure_data.error
    assert message is not None
    assert "gbpusd-ticks.csv" in message.message
    assert "line 3, column 'bid'" in message.message
    assert store.exists("landing/rejected/truefx/bad/gbpusd-ticks.csv")
    reason = store.read_bytes("landing/rejected/truefx/bad/gbpusd-ticks.csv.reason.txt").decode()
    assert "line 3, column 'bid'" in reason and "oops" in reason
    assert not store.exists(bad_landed.key)

    assert ingest(instance, resource, good_landed).success
    assert store.exists("landing/archive/truefx/good/eurusd-ticks.csv")


def test_tick_lake_prod_s3_and_timescaledb_write_hive_layout_and_manifest(
    instance: dg.DagsterInstance,
    s3_server: Any,
    s3_bucket: str,
    tsdb_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_server.env().items():  # the standard AWS variables, as in prod
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(
        {
            "QUANT_DEPLOYMENT": "prod",
            "QUANT_S3_BUCKET": s3_bucket,
            "QUANT_TSDB_DSN": tsdb_database,
            "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        }
    )
    resource = ObjectStoreResource.from_settings(settings)
    warehouse = WarehouseResource.from_settings(settings)
    assert resource.kind == "s3"
    result = build_partition(instance, resource, "2024-01-02|XNYS", ["SYNA"], warehouse)
    assert result.success
    (row,) = warehouse.get_warehouse().tick_manifest(market="XNYS")
    keys = list(resource.get_store().list(""))
    assert keys == sorted([row["quarantine_key"], row["clean_key"], row["raw_key"]])
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "tick_quarantine/year=2024/month=01/day=02/symbol=SYNA",
        "ticks_clean/year=2024/month=01/day=02/symbol=SYNA",
        "ticks_raw/year=2024/month=01/day=02/symbol=SYNA",
    ]
