"""The process the local run launcher forks run workers from (``quant_assets/run_launcher.py``).

It imports the heavy modules and the code location once, runs warm-up functions (the Great
Expectations context, the market calendars' session indexes), then forks one run worker per run
id it reads: a worker starts with everything a run needs already in memory (copy-on-write),
instead of an interpreter that spends seconds importing Dagster, GX, torch and the project and
building calendars for every run. The launcher replaces this process when a project file changes,
so a worker never runs stale code.

Protocol (line based): stdin carries one JSON header (``preload``, ``warm_up``, the serialized
instance ref), then one run id per line; stdout answers ``ready <JSON list of project
directories>`` once warm, then the worker's pid for each run id. EOF on stdin: wait for the
workers still running, then exit.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO


def _note(message: str) -> None:
    print(f"run zygote {os.getpid()}: {message}", file=sys.stderr, flush=True)


def _call(target: str) -> None:
    """``module:function`` → call it (a warm-up)."""
    module, _, name = target.partition(":")
    getattr(importlib.import_module(module), name)()


def prepare(preload: Sequence[str], warm_up: Sequence[str]) -> list[str]:
    """Import ``preload`` and call ``warm_up``; a failure is logged and skipped (the worker then
    imports the module itself and reports the error in its run). Returns the directories of
    the project packages now loaded (top-level packages under the working directory): the
    files the launcher watches."""
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # a broken code location fails in the run, with its trace
            _note(f"preload {name} failed:\n{traceback.format_exc()}")
    for target in warm_up:
        try:
            _call(target)
        except Exception:
            _note(f"warm-up {target} failed:\n{traceback.format_exc()}")
    return project_dirs(Path.cwd())


def project_dirs(root: Path) -> list[str]:
    """Top-level package directories of loaded modules that live under ``root`` (not in a
    virtual environment or site-packages)."""
    dirs: set[str] = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or "site-packages" in file:
            continue
        path = Path(file).absolute()
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        if len(relative.parts) > 1 and not relative.parts[0].startswith("."):
            dirs.add(str(root / relative.parts[0]))
    return sorted(dirs)


def _run_worker(instance_ref: Any, run_id: str) -> None:
    """What ``dagster api execute_run`` does, in the forked process: SIGTERM (the launcher's
    ``terminate``) interrupts the run as Ctrl-C would, so Dagster records it as interrupted."""
    import dagster as dg
    from dagster._cli.api import _execute_run_command_body
    from dagster._utils.interrupts import capture_interrupts, setup_interrupt_handlers

    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_interrupt_handlers()  # SIGTERM -> the SIGINT handler
    with capture_interrupts(), dg.DagsterInstance.from_ref(instance_ref) as instance:
        _execute_run_command_body(run_id, instance, lambda _: None, set_exit_code_on_failure=False)


def _reap(signum: int = 0, frame: FrameType | None = None) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork_worker(instance_ref: Any, run_id: str, channel: TextIO) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the worker: default signal handling, not the zygote's pipes
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        channel.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        _run_worker(instance_ref, run_id)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    # stdout is the launcher's channel: anything the imports print goes to stderr instead.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    header = json.loads(sys.stdin.readline())
    from dagster._serdes import deserialize_value

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is imported
    instance_ref = deserialize_value(header["instance_ref"])
    dirs = prepare(header.get("preload", []), header.get("warm_up", []))
    signal.signal(signal.SIGCHLD, _reap)
    channel.write(f"ready {json.dumps(dirs)}\n")
    for line in sys.stdin:
        run_id = line.strip()
        if run_id:
            channel.write(f"{_fork_worker(instance_ref, run_id, channel)}\n")
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:  # retired: let the running workers finish, then go
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break


if __name__ == "__main__":
    main()
