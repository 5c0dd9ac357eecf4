from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from quant_assets.definitions import build_defs
from quant_assets.defs.sensors import failed_run_sensor, tick_lake_sensors
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


def add_clean_days(env: dict[str, Any], *days: date, calibrated: bool = True) -> None:
    """Clean sessions of SYNA and, unless ``calibrated`` is False, their cost calibrations
    (stored as of the next midnight, as cost_model_params stores them)."""
    store = env["resources"]["object_store"].get_store()
    wh = env["resources"]["warehouse"].get_warehouse()
    synthetic = synthetic_source(200, 0)
    for day in days:  # weekdays without holidays: XNYS sessions with clean rows
        manifest.commit(wh, [build_symbol(store, day, "SYNA", None, synthetic)])
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
