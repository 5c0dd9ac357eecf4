from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from quant_assets.defs.costs import cost_model_params
from quant_assets.defs.ticks import tick_lake
from quant_assets.defs.training import trained_policy
from quant_assets.lib.training import load_policy
from quant_assets.lib.training.pipeline import download_artifact
from quant_assets_tests.defs.conftest import Platform

TEN_STEPS = {
    "ops": {
        "trained_policy": {
            "config": {
                "total_timesteps": 10,
                "n_envs": 2,
                "hyperparams": {"n_steps": 5, "batch_size": 10, "n_epochs": 1},
                # the platform's three sessions cannot hold >= 2 train days (a calibration ends
                # at the midnight after its session), an embargo session and a test session
                "embargo_sessions": 0,
            }
        }
    }
}


def test_trained_policy_ten_cpu_steps_artifact_registered_and_loadable(
    platform: Platform, tmp_path: Path
) -> None:
    instance, resources = platform
    result = dg.materialize(
        [trained_policy, cost_model_params, tick_lake],
        selection=[trained_policy],
        partition_key="SYNA",
        instance=instance,
        resources=resources,
        run_config=TEN_STEPS,
    )
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    policy_id = metadata["policy_id"].value
    assert metadata["device"].value == "cpu"
    assert [p["partition_key"] for p in metadata["training_partitions"].value] == [
        "2024-01-02|SYNA",
        "2024-01-03|SYNA",
        "2024-01-04|SYNA",
    ]

    warehouse = resources["warehouse"].get_warehouse()
    runs = warehouse.query("SELECT status, policy_id FROM training_runs").to_pylist()
    assert runs == [{"status": "succeeded", "policy_id": policy_id}]
    policies = warehouse.query("SELECT policy_id, artifact_uri FROM policies").to_pylist()
    assert policies[0]["policy_id"] == policy_id
    logged = warehouse.query("SELECT count(*) AS n FROM metrics").to_pylist()[0]["n"]
    assert logged > 0  # SB3 scalars streamed through the metrics writer

    store = resources["object_store"].get_store()
    local = download_artifact(store, str(metadata["artifact_prefix"].value), tmp_path / "cache")
    loaded = load_policy(local)
    assert loaded.policy_id == policy_id
    # trained on the stored calibration of its window (not a recalibration), recorded in lineage
    stored = warehouse.query("SELECT version FROM cost_model_params").to_pylist()
    version = metadata["cost_model_version"].value
    assert version in {r["version"] for r in stored}
    assert loaded.lineage["cost_model_version"] == version
    assert loaded.lineage["cost_model_params"]["version"] == version


def test_trained_policy_profiled_on_cpu_stores_profile_and_reports_no_gpu(
    platform: Platform, monkeypatch: Any
) -> None:
    """No GPU here: the sampler says so without failing the run, and writes the writer's backlog
    beside the training metrics; the profile is stored with the run in the object store."""
    monkeypatch.setenv("QUANT_GPU_SAMPLE_INTERVAL_S", "0.2")
    instance, resources = platform
    config = {"ops": {"trained_policy": {"config": {**_config(), "profile": True}}}}
    result = dg.materialize(
        [trained_policy, cost_model_params, tick_lake],
        selection=[trained_policy],
        partition_key="SYNA",
        instance=instance,
        resources=resources,
        run_config=config,
    )
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert str(metadata["gpu_sampler"].value).startswith("no GPU")
    phases = metadata["profile_phases_ms"].value
    assert phases["env_step"] > 0 and phases["train_update"] > 0
    store = resources["object_store"].get_store()
    prefix = f"profiles/SYNA/{result.run_id}"
    assert store.exists(f"{prefix}/trace.json") and store.exists(f"{prefix}/summary.json")
    names = (
        resources["warehouse"]
        .get_warehouse()
        .query(
            "SELECT DISTINCT name FROM metrics WHERE run_id = :run_id", {"run_id": result.run_id}
        )
        .column(0)
        .to_pylist()
    )
    assert "system/writer/spool_segments" in names and "time/fps" in names


def _config() -> dict[str, Any]:
    return dict(TEN_STEPS["ops"]["trained_policy"]["config"])  # type: ignore[index]
