from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from quant_assets.definitions import build_defs
from quant_assets.defs.sensors import failed_run_sensor, tick_lake_sensors
from quant_assets.defs.tick_checks import blocking_check_keys
from quant_assets.lib.evaluation.registry import production_alias
from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.pipeline import build_symbol
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.warehouse.base import EpisodeRecord, TrainingRun
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

(retrain_sensor,) = (
    s for s in tick_lake_sensors(Settings.from_env({})) if s.name == "retrain_sensor"
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    resources = {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
        "platform": PlatformSettingsResource(data_root=str(tmp_path), retrain_min_new_partitions=3),
    }
    defs = build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)}))
    return {"instance": instance, "resources": resources, "defs": defs}


def report_checks(env: dict[str, Any], day: date, *, passed: bool = True) -> None:
    """Evaluations of the blocking checks of ``day``'s XNYS partition, as a build run records
    them after its materialization."""
    from dagster._core.events import DagsterEvent, DagsterEventType

    run_id = uuid.uuid4().hex  # one evaluation per (check, partition, run)
    for check in blocking_check_keys():
        evaluation = dg.AssetCheckEvaluation(
            asset_key=check.asset_key,
            check_name=check.name,
            passed=passed,
            partition=f"{day.isoformat()}|XNYS",
        )
        env["instance"].report_dagster_event(
            run_id=run_id,
            dagster_event=DagsterEvent(
                event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                event_specific_data=evaluation,
                job_name="tick_lake",
            ),
        )


def add_clean_days(
    env: dict[str, Any], *days: date, calibrated: bool = True, checked: bool = True
) -> None:
    """Clean sessions of SYNA (materialized, and unless ``checked`` is False with passing
    blocking checks) and, unless ``calibrated`` is False, their cost calibrations (stored as of
    the next midnight, as cost_model_params stores them)."""
    store = env["resources"]["object_store"].get_store()
    wh = env["resources"]["warehouse"].get_warehouse()
    synthetic = synthetic_source(200, 0)
    for day in days:  # weekdays without holidays: XNYS sessions with clean rows
        manifest.commit(wh, [build_symbol(store, day, "SYNA", None, synthetic)])
        env["instance"].report_runless_asset_event(
            dg.AssetMaterialization("clean_ticks", partition=f"{day.isoformat()}|XNYS")
        )
        if checked:
            report_checks(env, day)
        if calibrated:
            as_of = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
            wh.upsert_cost_model_params("SYNA", f"v{day:%Y%m%d}", as_of, {"adv": 1.0})


def tick(env: dict[str, Any]) -> list[dg.RunRequest]:
    with (
        dg.build_sensor_context(
            instance=env["instance"], definitions=env["defs"], resources=env["resources"]
        ) as context,
        partition_loading_context(dynamic_partitions_store=env["instance"]),
    ):
        return list(retrain_sensor.evaluate_tick(context).run_requests or [])


def register_champion(env: dict[str, Any], trained_on: list[date]) -> str:
    wh = env["resources"]["warehouse"].get_warehouse()
    versions = ",".join(f"{d.isoformat()}|SYNA=v" for d in trained_on)
    wh.upsert_training_run(TrainingRun("run-a", "PPO", T0, data_version=versions))
    wh.register_policy("a" * 64, run_id="run-a", algorithm="PPO", artifact_uri="s3://x")
    wh.set_alias(production_alias("SYNA"), "a" * 64)
    return "a" * 64


def test_retrain_sensor_enough_new_days_requests_once_with_reason(env: dict[str, Any]) -> None:
    add_clean_days(env, date(2024, 1, 2), date(2024, 1, 3))
    assert tick(env) == []  # 2 days < 3 required
    add_clean_days(env, date(2024, 1, 4))
    (request,) = tick(env)
    assert request.partition_key == "SYNA"
    reason = request.run_config["ops"]["trained_policy"]["config"]["reason"]
    assert reason == "new_data: 3 new clean days through 2024-01-04"
    assert [r.run_key for r in tick(env)] == [request.run_key]  # same cause, same key


def test_retrain_sensor_new_days_not_yet_calibrated_waits_for_costs(
    env: dict[str, Any],
) -> None:
    add_clean_days(env, date(2024, 1, 2), date(2024, 1, 3))
    add_clean_days(env, date(2024, 1, 4), calibrated=False)
    assert tick(env) == []  # training would find no stored costs for the newest session
    add_clean_days(env, date(2024, 1, 4))
    (request,) = tick(env)
    assert request.partition_key == "SYNA"


def test_retrain_sensor_champion_trained_on_latest_data_no_request(env: dict[str, Any]) -> None:
    days = [date(2024, 1, 2) + timedelta(days=i) for i in range(4)]
    add_clean_days(env, *days)
    register_champion(env, days)
    assert tick(env) == []
    add_clean_days(env, *(date(2024, 1, 10) + timedelta(days=i) for i in range(3)))
    (request,) = tick(env)
    assert "through 2024-01-12" in request.run_config["ops"]["trained_policy"]["config"]["reason"]


def test_retrain_sensor_champion_losing_out_of_sample_requests_retrain(env: dict[str, Any]) -> None:
    days = [date(2024, 1, 2)]
    add_clean_days(env, *days)
    champion = register_champion(env, days)
    wh = env["resources"]["warehouse"].get_warehouse()
    name = f"ppo-{champion[:12]}"
    losses = np.random.default_rng(0).normal(-100.0, 50.0, 8)  # PnL per episode, clearly < 0
    for i, evaluation in enumerate(("e1", "e2")):
        wh.write_episodes(
            [
                EpisodeRecord(
                    "run-a",
                    k,
                    "test",
                    final_pnl=float(losses[4 * i + k]),
                    evaluation_id=evaluation,
                    policy=name,
                )
                for k in range(4)
            ]
        )
        wh.record_promotion_decision(
            {
                "evaluation_id": evaluation,
                "symbol": "SYNA",
                "alias": "production:SYNA",
                "challenger": "c",
                "champion": champion,
                "promoted": False,
                "reason": "r",
                "metric": "final_pnl",
                "margin": 0.0,
                "n_episodes": 2,
                "mean_diff": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
                "lower_bound": 0.0,
                "p_value": 1.0,
                "decided_at": T0 + timedelta(days=i),
            }
        )
    (request,) = tick(env)
    assert request.tags["quant/retrain_kind"] == "drift"
    assert "evaluation e2" in (request.run_key or "")


def test_failed_run_sensor_records_failure_in_warehouse(env: dict[str, Any]) -> None:
    @dg.op
    def boom() -> None:
        raise RuntimeError("S3 unreachable")

    @dg.job
    def fragile() -> None:
        boom()

    result = fragile.execute_in_process(instance=env["instance"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    with dg.build_run_status_sensor_context(
        sensor_name="failed_run_sensor",
        dagster_instance=env["instance"],
        dagster_run=result.dagster_run,
        dagster_event=failure,
        resources=env["resources"],
    ) as context:
        failed_run_sensor(context.for_run_failure())
    rows = (
        env["resources"]["warehouse"]
        .get_warehouse()
        .query("SELECT run_id, job_name, error FROM run_failures")
        .to_pylist()
    )
    assert rows == [
        {
            "run_id": result.run_id,
            "job_name": "fragile",
            "error": "boom: RuntimeError: S3 unreachable",
        }
    ]


def test_retrain_sensor_blocking_checks_not_yet_run_waits_then_fires(env: dict[str, Any]) -> None:
    days = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    add_clean_days(env, *days[:2])
    add_clean_days(env, days[2], checked=False)  # built, its checks still to run
    assert tick(env) == []
    report_checks(env, days[2])
    (request,) = tick(env)
    assert request.run_key == "retrain:SYNA:new_data:3 new clean days through 2024-01-04"


def test_retrain_sensor_blocking_check_failed_no_request(env: dict[str, Any]) -> None:
    days = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    add_clean_days(env, *days[:2])
    add_clean_days(env, days[2], checked=False)
    report_checks(env, days[2], passed=False)
    assert tick(env) == []


def test_retrain_sensor_rebuilt_after_checks_waits_for_new_checks(env: dict[str, Any]) -> None:
    days = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    add_clean_days(env, *days)
    env["instance"].report_runless_asset_event(  # rebuilt: the passed checks judged the old data
        dg.AssetMaterialization("clean_ticks", partition="2024-01-03|XNYS")
    )
    assert tick(env) == []
    report_checks(env, days[1])
    assert len(tick(env)) == 1


def test_retrain_sensor_many_symbols_one_manifest_query(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env["instance"].add_dynamic_partitions("symbols", ["SYNB", "AAPL", "MSFT"])
    add_clean_days(env, date(2024, 1, 2))
    wh = env["resources"]["warehouse"].get_warehouse()
    calls: list[str] = []
    named = type(wh).query_named

    def counting(self: Any, name: str, params: Any = None) -> Any:
        calls.append(name)
        return named(self, name, params)

    monkeypatch.setattr(type(wh), "query_named", counting)
    tick(env)
    assert [c for c in calls if c.startswith("tick_manifest")] == ["tick_manifest_clean_days"]


def test_retrain_sensor_real_build_with_checks_fires_after_checks(tmp_path: Path) -> None:
    """The check records a real tick build writes are the ones the sensor reads."""
    from quant_assets.defs import tick_checks
    from quant_assets.defs.ticks import tick_lake

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb"))
    resources: dict[str, Any] = {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": warehouse,
        "platform": PlatformSettingsResource(data_root=str(tmp_path), retrain_min_new_partitions=1),
    }
    env = {
        "instance": instance,
        "resources": resources,
        "defs": build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)})),
    }
    wh = warehouse.get_warehouse()
    wh.upsert_cost_model_params("SYNA", "v", datetime(2024, 1, 3, tzinfo=UTC), {"adv": 1.0})
    run_config = {"ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": 2000}}}}
    build = dg.materialize(
        [tick_lake],
        partition_key="2024-01-02|XNYS",
        instance=instance,
        resources=resources,
        run_config=run_config,
    )
    assert build.success
    assert tick(env) == []  # built, but its blocking checks have not run
    checks = [tick_checks.clean_ticks_expectations, tick_checks.clean_ticks_reconcile]
    checks.append(tick_checks.clean_ticks_coverage)
    assert dg.materialize(  # rebuilt with its checks, as the tick_lake job runs it
        [tick_lake, *checks],
        partition_key="2024-01-02|XNYS",
        instance=instance,
        resources=resources,
        run_config=run_config,
    ).success
    (request,) = tick(env)
    assert request.run_key == "retrain:SYNA:new_data:1 new clean days through 2024-01-02"
