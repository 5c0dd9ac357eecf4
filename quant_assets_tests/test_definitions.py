"""The code location as Dagster and `dg` load it: the dg project layout, no warnings on load,
configuration only through resources, secrets bound by name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from quant_assets.definitions import build_defs
from quant_assets.defs.partitions import tick_partitions
from quant_assets.lib.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-pw-9f2"  # pragma: allowlist secret


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANT_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(tmp_path), PYTHONPATH=str(REPO_ROOT))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def test_dg_check_defs_project_layout_loads(tmp_path: Path) -> None:
    dg = Path(sys.executable).with_name("dg")
    result = subprocess.run(
        [str(dg), "check", "defs"],
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_definitions_load_emits_no_warnings(tmp_path: Path) -> None:
    code = (
        "from quant_assets.definitions import build_defs\n"
        "build_defs().get_repository_def().get_all_jobs()\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_definitions_every_defs_module_is_loaded() -> None:
    repo = build_defs().get_repository_def()
    sensors = {s.name for s in repo.sensor_defs}
    assert {"automation_sensor", "landing_sensor", "retrain_sensor"} <= sensors
    assert {"train_policy", "tick_lake", "ingest_landing"} <= {j.name for j in repo.get_all_jobs()}
    assert {"object_store", "warehouse", "platform"} <= set(repo.get_top_level_resources())


def test_prod_definitions_dsn_bound_by_name_never_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANT_DEPLOYMENT", "prod")
    monkeypatch.setenv("QUANT_TSDB_DSN", f"postgresql://quant:{SECRET}@tsdb:5432/quant")
    monkeypatch.setenv("QUANT_S3_BUCKET", "quant-lake")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://seaweed:8333")
    monkeypatch.setenv("QUANT_TRAINING_IMAGE", "registry.example.com/quant:1")
    snapshot = serialize_value(RepositorySnap.from_def(build_defs().get_repository_def()))
    assert SECRET not in snapshot
    assert '\\"tsdb_dsn\\": {\\"env\\": \\"QUANT_TSDB_DSN\\"}' in snapshot
    assert '\\"endpoint_url\\": {\\"env\\": \\"AWS_ENDPOINT_URL\\"}' in snapshot


ENV_READ = re.compile(r"os\.environ(?!\.(setdefault|update))|os\.getenv")


def test_environment_read_only_by_settings() -> None:
    """Configuration comes in through resources; only lib/settings.py reads the environment
    (setdefault/update for child processes and third-party switches is writing, not reading;
    the CLI hands its environment
    to the processes it starts)."""
    readers = [
        str(path.relative_to(REPO_ROOT))
        for root in ("quant_assets", "resources")
        for path in (REPO_ROOT / root).rglob("*.py")
        if ENV_READ.search(path.read_text()) and path.name not in {"settings.py", "cli.py"}
    ]
    assert readers == []


def test_definitions_validate_loadable_with_session_market_partitions() -> None:
    import dagster as dagster_module

    dagster_module.Definitions.validate_loadable(build_defs())
    # session dates from 1990 x 4 markets: under Dagster's 100k partitions per asset guidance
    assert tick_partitions.get_num_partitions() < 100_000


def test_sensor_intervals_explicit_settings_taken_from_them(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "QUANT_DATA_ROOT": str(tmp_path),
            "QUANT_LANDING_SENSOR_INTERVAL_S": "7",
            "QUANT_RETRAIN_SENSOR_INTERVAL_S": "70",
        }
    )
    intervals = {
        s.name: s.minimum_interval_seconds
        for s in build_defs(settings).get_repository_def().sensor_defs
    }
    assert intervals["retrain_sensor"] == 70
    for name in (
        "landing_sensor",
        "landed_partitions_sensor",
        "ingestion_events_sensor",
        "automation_sensor",
    ):
        assert intervals[name] == 7, name


def test_sensor_intervals_environment_read_when_definitions_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANT_LANDING_SENSOR_INTERVAL_S", "11")
    monkeypatch.setenv("QUANT_RETRAIN_SENSOR_INTERVAL_S", "111")
    repo = build_defs().get_repository_def()
    intervals = {s.name: s.minimum_interval_seconds for s in repo.sensor_defs}
    assert intervals["landing_sensor"] == 11 and intervals["automation_sensor"] == 11
    assert intervals["retrain_sensor"] == 111


def test_default_executor_asset_job_steps_in_run_process(tmp_path: Path) -> None:
    """UI materializations and automation runs (the implicit asset job) do not start a process
    per step; the training job keeps its own executor."""
    for defs in (build_defs(), build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)}))):
        repo = defs.get_repository_def()
        implicit = repo.get_implicit_global_asset_job_def()
        assert implicit.executor_def.name == "in_process"
        assert repo.get_job("train_policy").executor_def.name != "in_process"
