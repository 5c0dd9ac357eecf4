"""A run launcher for the local instance: each run worker is forked from a ``forkserver`` that
imported the heavy third-party modules (Dagster, Great Expectations, pandas, pyarrow, calendars)
once, instead of a fresh interpreter that spends seconds importing them for every run.

Only third-party modules are preloaded: the code location itself is imported in each run worker,
so a reloaded or edited code location is what the next run executes. Runs stay separate
processes (a crash fails one run, not the daemon), and ``terminate`` stops them.
Configured in the local ``dagster.yaml`` (``quant_assets/local_instance.py``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

import dagster as dg
from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData

DEFAULT_PRELOAD = (
    "dagster",
    "dagster._cli.api",
    "pandas",
    "pyarrow.parquet",
    "exchange_calendars",
    "great_expectations",
)


def _run_worker(instance_ref: Any, run_id: str) -> None:
    """The body of ``dagster api execute_run``, in a forked process."""
    from dagster._cli.api import _execute_run_command_body

    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        _execute_run_command_body(run_id, instance, lambda _: None, set_exit_code_on_failure=False)


class ForkserverRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        preload_modules: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        self._inst_data = inst_data
        self._preload = list(preload_modules)
        self._context: ForkServerContext | None = None
        self._workers: dict[str, BaseProcess] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"preload_modules": dg.Field([str], is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ForkserverRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def _forkserver(self) -> ForkServerContext:
        if self._context is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is preloaded
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(self._preload)
            self._context = context
        return self._context

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        worker = self._forkserver().Process(
            target=_run_worker, args=(self._instance.get_ref(), run.run_id), daemon=False
        )
        worker.start()
        self._workers[run.run_id] = worker
        self._instance.report_engine_event(
            f"Forked run worker (pid {worker.pid}) from the preloaded forkserver.", run
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        worker = self._workers.get(run_id)
        if run is None or worker is None or not worker.is_alive():
            return False
        self._instance.report_run_canceling(run)
        worker.terminate()
        return True

    # Run monitoring applies its start/cancel timeouts; worker health is not reported because the
    # monitoring daemon's launcher object is not the one that forked the workers.
    @property
    def supports_check_run_worker_health(self) -> bool:
        return False

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = self._workers.get(run.run_id)
        if worker is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "launched by another process")
        if worker.is_alive():
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        if worker.exitcode == 0:
            return CheckRunHealthResult(WorkerStatus.SUCCESS)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker exit code {worker.exitcode}")

    def dispose(self) -> None:
        for worker in self._workers.values():
            worker.join(timeout=0)
