"""A run launcher for the local instance: run workers are forked from a warm process (the "run
zygote", ``quant_assets/run_zygote.py``) that imported Dagster, Great Expectations, torch, the
code location and the calendars once, instead of a fresh interpreter that spends seconds on
them for every run.

The zygote is replaced when a file of the project packages it loaded changes (or a file is
added or removed there): the next run then forks from a zygote that imported the edited code, so
a reloaded code location is what runs. Runs stay separate processes (a crash fails one run, not
the daemon), and ``terminate`` stops them. Configured in the local ``dagster.yaml``
(``quant_assets/local_instance.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

from quant_assets.lib.processes import is_alive

DEFAULT_PRELOAD = (
    "dagster",
    "dagster._cli.api",
    "pandas",
    "pyarrow.parquet",
    "exchange_calendars",
    "great_expectations",
)


def tree_stamp(dirs: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime ns, size) of every ``.py`` file under ``dirs``: changes when a file is edited,
    added or removed (a few milliseconds for the project's few hundred files)."""
    out = []
    for top in dirs:
        for folder, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__pycache__")))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(OSError):
                        st = os.stat(path)
                        out.append((path, st.st_mtime_ns, st.st_size))
    return tuple(out)


@dataclass
class Zygote:
    """A started ``run_zygote`` process and the project files it loaded."""

    process: subprocess.Popen[str]
    dirs: list[str]
    stamp: tuple[tuple[str, int, int], ...] = field(default=())

    @classmethod
    def start(
        cls,
        instance_ref: Any,
        preload: Sequence[str],
        warm_up: Sequence[str],
        cwd: str | None = None,
    ) -> Zygote:
        """Start one and wait until it is warm; ``cwd``: where the code location is (default:
        this process's working directory, as for the code server)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "quant_assets.run_zygote"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert process.stdin is not None and process.stdout is not None
        header = {
            "preload": list(preload),
            "warm_up": list(warm_up),
            "instance_ref": serialize_value(instance_ref),
        }
        process.stdin.write(json.dumps(header) + "\n")
        process.stdin.flush()
        ready = process.stdout.readline()
        if not ready.startswith("ready "):
            process.kill()
            raise RuntimeError(f"run zygote did not start (exit {process.wait()})")
        dirs = json.loads(ready[len("ready ") :])
        return cls(process, dirs, tree_stamp(dirs))

    @property
    def current(self) -> bool:
        """Alive, and no project file changed since it loaded them."""
        return self.process.poll() is None and tree_stamp(self.dirs) == self.stamp

    def fork(self, run_id: str) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(run_id + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer.strip().isdigit():
            raise RuntimeError(f"run zygote did not fork a worker for {run_id}: {answer!r}")
        return int(answer)

    def retire(self) -> None:
        """No more runs: it exits once its running workers have finished."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class ForkserverRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        preload_modules: Sequence[str] = DEFAULT_PRELOAD,
        warm_up: Sequence[str] = (),
    ) -> None:
        self._inst_data = inst_data
        self._preload = list(preload_modules)
        self._warm_up = list(warm_up)
        self._zygote: Zygote | None = None
        self._lock = threading.Lock()
        self._workers: dict[str, int] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "preload_modules": dg.Field([str], is_required=False),
            "warm_up": dg.Field([str], is_required=False),  # "module:function" to call once
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ForkserverRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def _current_zygote(self) -> Zygote:
        if self._zygote is not None and not self._zygote.current:
            self._zygote.retire()
            self._zygote = None
        if self._zygote is None:
            self._zygote = Zygote.start(self._instance.get_ref(), self._preload, self._warm_up)
        return self._zygote

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        with self._lock:
            pid = self._current_zygote().fork(run.run_id)
        self._workers[run.run_id] = pid
        self._instance.report_engine_event(
            f"Forked run worker (pid {pid}) from the warm run zygote.", run
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        pid = self._workers.get(run_id)
        if run is None or pid is None or not is_alive(pid):
            return False
        self._instance.report_run_canceling(run)
        os.kill(pid, signal.SIGTERM)
        return True

    # Run monitoring applies its start/cancel timeouts; worker health is not reported because the
    # monitoring daemon's launcher object is not the one that forked the workers.
    @property
    def supports_check_run_worker_health(self) -> bool:
        return False

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self._workers.get(run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "launched by another process")
        if is_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, "run worker exited")

    def dispose(self) -> None:
        with self._lock:
            if self._zygote is not None:
                self._zygote.retire()
                self._zygote = None
