"""One tick_lake partition launched through the daemon vs the same work in-process.

    nice -n 19 .venv/bin/python benchmarks/ui_run_latency.py [--ticks 20000 1000000] [--repeat 3]

For each size (synthetic ticks of one SYNA session), timings of the same job (``tick_lake``:
raw_ticks → clean_ticks + tick_quarantine with every check):

* in-process warm: ``execute_in_process`` in a process that already built a partition, on a
  SQLite instance like the local one (what the old ``quant demo`` paid per partition: Dagster's
  event writes to SQLite are part of the work), and on an in-memory instance;
* in-process cold: a fresh interpreter that imports the code location and builds one partition
  (what any new process pays: imports, Great Expectations, the work);
* daemon: ``launchRun`` through the webserver of ``dagster dev`` on the local instance
  (``quant_assets/local_instance.py``: queued coordinator looking every second) until the run
  is SUCCESS: queueing, the run worker's start and the work. Run workers are forked from a warm
  process with the code location loaded (``quant_assets/run_launcher.py``).

Prints each measured run's phases from its event log (request → RUN_ENQUEUED → RUN_STARTING →
fork → RUN_START → steps → RUN_SUCCESS), seconds (medians of ``--repeat`` runs) and the ratios
daemon / in-process (the target is daemon <= 3x in-process). Timings on a shared 2-core machine
vary with its load: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType

from quant_assets.definitions import build_defs
from quant_assets.lib.settings import Settings
from quant_assets.local_dagster import DagsterDev
from quant_assets.local_instance import ensure_local_instance
from quant_assets.main_job import LAUNCH_RUN as LAUNCH

REPO_ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "SYNA"  # the one synthetic symbol registered: the XNYS session holds only it
MARKET = "XNYS"
FIRST = date(2024, 1, 2)  # Tuesday; sessions follow on consecutive weekdays

RUN_MILESTONES = (
    DagsterEventType.RUN_ENQUEUED,
    DagsterEventType.RUN_DEQUEUED,
    DagsterEventType.RUN_STARTING,
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
)
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status startTime endTime } }
}
"""


def run_config(ticks: int) -> dict[str, Any]:
    return {
        "ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": ticks}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},  # quiet, as the CLI
    }


def key(day: date) -> str:
    return f"{day.isoformat()}|{MARKET}"


def in_process(
    defs: dg.Definitions, instance: dg.DagsterInstance, day: date, ticks: int
) -> tuple[float, list[tuple[str, float]]]:
    job = defs.resolve_job_def("tick_lake")
    started, started_wall = time.perf_counter(), time.time()
    result = job.execute_in_process(
        partition_key=key(day), instance=instance, run_config=run_config(ticks)
    )
    assert result.success
    took = time.perf_counter() - started
    return took, phases(instance, result.run_id, started_wall)


COLD = """
import sys, dagster as dg
from quant_assets.definitions import build_defs
from quant_assets.lib.settings import Settings
instance = dg.DagsterInstance.ephemeral()
instance.add_dynamic_partitions("symbols", ["SYNA"])
defs = build_defs(Settings.from_env({"QUANT_DATA_ROOT": sys.argv[1]}))
config = {
    "ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": int(sys.argv[3])}}},
    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
}
result = defs.resolve_job_def("tick_lake").execute_in_process(
    partition_key=sys.argv[2], instance=instance, run_config=config
)
assert result.success
"""


def in_process_cold(data_root: Path, day: date, ticks: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", COLD, str(data_root), key(day), str(ticks)],
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return time.perf_counter() - started


def phases(instance: dg.DagsterInstance, run_id: str, submitted: float) -> list[tuple[str, float]]:
    """Where a run's time went, from its event log: (phase, seconds) between consecutive
    milestones, from the launchRun request (``submitted``, epoch seconds) to RUN_SUCCESS."""
    marks: list[tuple[str, float]] = [("submit", submitted)]
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind in RUN_MILESTONES:
            marks.append((kind.name, entry.timestamp))
        elif kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
            marks.append((f"{kind.name} {event.step_key}", entry.timestamp))
        elif kind == DagsterEventType.ENGINE_EVENT:
            marks.append((f"engine: {(event.message or '')[:50]}", entry.timestamp))
    return [(f"{a} → {b}", tb - ta) for (a, ta), (b, tb) in itertools.pairwise(marks)]


def print_phases(label: str, rows: list[tuple[str, float]]) -> None:
    print(f"  {label}:")
    for name, seconds in rows:
        print(f"    {seconds:7.2f}s  {name}")


def daemon_run(
    dev: DagsterDev, instance: dg.DagsterInstance, location: str, day: date, ticks: int
) -> tuple[float, float, list[tuple[str, float]]]:
    """(submit → SUCCESS seen, run start → end) in seconds, and the run's phases."""
    dims = {"date": day.isoformat(), "market": MARKET}
    tags = [{"key": "dagster/partition", "value": key(day)}] + [
        {"key": f"dagster/partition/{d}", "value": v} for d, v in dims.items()
    ]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "tick_lake",
        },
        "runConfigData": run_config(ticks),
        "executionMetadata": {"tags": tags},
    }
    submitted, submitted_wall = time.perf_counter(), time.time()
    launched = dev.graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    while True:
        run = dev.graphql(RUN, {"runId": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            assert run["status"] == "SUCCESS", run
            seen = time.perf_counter() - submitted
            took = run["endTime"] - run["startTime"]
            return seen, took, phases(instance, run_id, submitted_wall)
        time.sleep(0.25)


def wait_idle(instance: dg.DagsterInstance) -> None:
    """No run queued or running: the measured run gets the queue to itself."""
    active = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    while instance.get_run_records(dg.RunsFilter(statuses=active)):
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="warm and daemon runs per size")
    args = parser.parse_args()
    days = iter(
        FIRST + timedelta(days=i) for i in range(0, 120) if (FIRST + timedelta(i)).weekday() < 5
    )

    with tempfile.TemporaryDirectory(prefix="ui_run_latency_") as tmp:
        root = Path(tmp)
        data_root, home = root / "data", root / "dagster_home"
        ensure_local_instance(home)
        ensure_local_instance(root / "in_process_home")
        settings = Settings.from_env({"QUANT_DATA_ROOT": str(data_root)})
        defs = build_defs(settings)
        memory = dg.DagsterInstance.ephemeral()
        sqlite = dg.DagsterInstance.from_config(str(root / "in_process_home"))
        for instance in (memory, sqlite):
            instance.add_dynamic_partitions("symbols", [SYMBOL])
            warm_up, _ = in_process(defs, instance, next(days), 20_000)
            print(f"warm-up partition (imports Great Expectations): {warm_up:.1f}s", flush=True)

        measured: dict[int, tuple[float, float, float]] = {}
        for ticks in args.ticks:
            runs = [in_process(defs, sqlite, next(days), ticks) for _ in range(args.repeat)]
            print_phases(f"in-process run (SQLite instance), {ticks} ticks", runs[-1][1])
            warm = median(t for t, _ in runs)
            warm_memory = median(
                in_process(defs, memory, next(days), ticks)[0] for _ in range(args.repeat)
            )
            cold = in_process_cold(data_root, next(days), ticks)
            measured[ticks] = (warm, warm_memory, cold)
            print(
                f"{ticks:>9} ticks: in-process warm {warm:.2f}s (in-memory instance"
                f" {warm_memory:.2f}s), cold {cold:.2f}s",
                flush=True,
            )

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("QUANT_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "QUANT_DATA_ROOT": str(data_root),
            # Sensors and automation evaluate once at start-up, then not while we measure (a
            # cost_model_params run they launch would otherwise take the queue's one slot).
            "QUANT_LANDING_SENSOR_INTERVAL_S": "3600",
            "QUANT_RETRAIN_SENSOR_INTERVAL_S": "3600",
        }
        rows: list[tuple[int, float, float, float, float, float]] = []
        with (root / "dagster_dev.log").open("wb") as log:
            dev = DagsterDev.start(env, args=["--log-level", "warning"], output=log)
            try:
                location = dev.wait_ready()
                instance_home = dg.DagsterInstance.from_config(str(home))
                instance_home.add_dynamic_partitions("symbols", [SYMBOL])
                first, _, _ = daemon_run(dev, instance_home, location, next(days), 20_000)
                print(f"first daemon run (starts the warm run zygote): {first:.1f}s")
                for ticks in args.ticks:
                    results = []
                    for _ in range(args.repeat):
                        wait_idle(instance_home)
                        results.append(daemon_run(dev, instance_home, location, next(days), ticks))
                    print_phases(f"daemon run, {ticks} ticks", results[-1][2])
                    total = median(r[0] for r in results)
                    worker = median(r[1] for r in results)
                    rows.append((ticks, *measured[ticks], total, worker))
                    print(f"{ticks:>9} ticks: daemon {total:.2f}s (run {worker:.2f}s)", flush=True)
            finally:
                dev.stop()

    print(f"\nmedians of {args.repeat} runs (cold: one)")
    print(
        f"{'ticks':>9} {'in-proc':>8} {'in-mem':>7} {'cold':>7} {'daemon':>7} {'run':>6}"
        f" {'daemon/in-proc':>14} {'daemon/in-mem':>13} {'daemon/cold':>11}"
    )
    for ticks, warm, warm_memory, cold, total, worker in rows:
        print(
            f"{ticks:>9} {warm:>7.2f}s {warm_memory:>6.2f}s {cold:>6.2f}s {total:>6.2f}s"
            f" {worker:>5.2f}s {total / warm:>13.2f}x {total / warm_memory:>12.2f}x"
            f" {total / cold:>10.2f}x"
        )


if __name__ == "__main__":
    main()
