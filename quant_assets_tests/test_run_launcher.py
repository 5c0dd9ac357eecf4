"""The local run launcher: run workers forked from a warm zygote, replaced when code changes."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.launcher.base import LaunchRunContext

from quant_assets.lib.processes import is_alive
from quant_assets.run_launcher import ForkserverRunLauncher, Zygote, tree_stamp

JOBS = """
import time
import dagster as dg

@dg.op(config_schema={"sleep_s": float})
def work(context):
    time.sleep(context.op_config["sleep_s"])
    return 1

@dg.job
def tiny():
    work()
"""


def _package(root: Path) -> Path:
    pkg = root / "pkgx"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("VALUE = 1\n")
    return pkg


def test_tree_stamp_file_edited_added_or_removed_changes(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    first = tree_stamp([str(pkg)])
    assert tree_stamp([str(pkg)]) == first
    (pkg / "mod.py").write_text("VALUE = 22\n")
    edited = tree_stamp([str(pkg)])
    assert edited != first
    (pkg / "new.py").write_text("")
    added = tree_stamp([str(pkg)])
    assert added != edited
    (pkg / "new.py").unlink()
    assert tree_stamp([str(pkg)]) == edited


def _instance(home: Path) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "run_launcher:\n"
        "  module: quant_assets.run_launcher\n"
        "  class: ForkserverRunLauncher\n"
        "  config:\n"
        "    preload_modules: [dagster, dagster._cli.api]\n"
        "telemetry:\n  enabled: false\n"
    )
    return dg.DagsterInstance.from_config(str(home))


def test_zygote_loaded_project_file_edited_no_longer_current(tmp_path: Path) -> None:
    pkg = _package(tmp_path / "code")
    instance = _instance(tmp_path / "home")
    zygote = Zygote.start(instance.get_ref(), ["pkgx.mod"], [], cwd=str(tmp_path / "code"))
    try:
        assert zygote.dirs == [str(pkg)]  # the project's package, not site-packages
        assert zygote.current
        (pkg / "mod.py").write_text("VALUE = 2\n")
        assert not zygote.current
    finally:
        zygote.retire()
        assert zygote.process.wait(timeout=30) == 0  # retired with no workers: exits
        instance.dispose()


def _wait(instance: dg.DagsterInstance, run_id: str, statuses: set[dg.DagsterRunStatus]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in statuses:
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {statuses}")


@pytest.mark.slow
def test_launcher_runs_forked_workers_succeed_and_terminate_stops_one(tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(JOBS)
    instance = _instance(tmp_path / "home")
    launcher = instance.run_launcher
    assert isinstance(launcher, ForkserverRunLauncher)
    recon = ReconstructableJob.for_file(str(tmp_path / "jobs.py"), "tiny")
    job = recon.get_definition()

    def launch(sleep_s: float) -> dg.DagsterRun:
        run = instance.create_run_for_job(
            job,
            run_config={"ops": {"work": {"config": {"sleep_s": sleep_s}}}},
            job_code_origin=recon.get_python_origin(),
        )
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        return run

    try:
        quick = launch(0.0)
        _wait(instance, quick.run_id, {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE})
        assert instance.get_run_by_id(quick.run_id).status == dg.DagsterRunStatus.SUCCESS  # type: ignore[union-attr]
        zygote = launcher._zygote
        assert zygote is not None

        slow = launch(120.0)
        _wait(instance, slow.run_id, {dg.DagsterRunStatus.STARTED})
        assert launcher._zygote is zygote  # same code: the warm zygote forked it too
        worker = launcher._workers[slow.run_id]
        assert worker != zygote.process.pid and is_alive(worker)
        assert launcher.terminate(slow.run_id)
        deadline = time.monotonic() + 30
        while is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not is_alive(worker)
        _wait(instance, slow.run_id, {dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE})
    finally:
        launcher.dispose()
        instance.dispose()
