from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.run_coordinator import QueuedRunCoordinator

from quant_assets.local_instance import ensure_local_instance, max_concurrent_runs
from quant_assets.run_launcher import ForkserverRunLauncher


def test_local_instance_queued_runs_fitted_to_cores_with_monitoring(tmp_path: Path) -> None:
    ensure_local_instance(tmp_path, cores=2)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.run_launcher, ForkserverRunLauncher)
        config = instance.get_concurrency_config().run_queue_config
        assert config is not None
        assert config.max_concurrent_runs == 1
        assert {"key": "quant/gpu", "limit": 1} in (config.tag_concurrency_limits or [])
        assert instance.run_monitoring_enabled
        assert not instance.telemetry_enabled
    finally:
        instance.dispose()


def test_max_concurrent_runs_leaves_a_core_on_small_machines() -> None:
    assert [max_concurrent_runs(n) for n in (1, 2, 4, 16)] == [1, 1, 3, 8]


def test_local_instance_user_owned_yaml_is_kept(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ensure_local_instance(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_local_instance_queue_every_second_workers_from_warm_code_location(tmp_path: Path) -> None:
    ensure_local_instance(tmp_path, cores=2)
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1  # Dagster's default: 5
        launcher = instance.run_launcher
        assert isinstance(launcher, ForkserverRunLauncher)
        assert "quant_assets.definitions" in launcher._preload
        assert "quant_assets.definitions:environment_defs" in launcher._warm_up
        assert instance.run_monitoring_start_timeout_seconds >= 600
    finally:
        instance.dispose()
