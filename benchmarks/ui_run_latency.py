"""One tick_lake partition launched through the daemon vs the same work in-process.

    .venv/bin/python benchmarks/ui_run_latency.py [--ticks 20000 1000000]

For each size (synthetic ticks of one SYNA session), three timings of the same job
(``tick_lake``: raw_ticks → clean_ticks + tick_quarantine with every check):

* in-process warm: ``execute_in_process`` in a process that already built a partition (what
  ``quant demo`` pays per partition once it is running);
* in-process cold: a fresh interpreter that imports the code location and builds one partition
  (what any new process pays: imports, Great Expectations, the work);
* daemon: ``launchRun`` through the webserver of ``dagster dev`` on the local instance
  (``quant_assets/local_instance.py``: queued coordinator) until the run is SUCCESS: queueing,
  the run worker's start-up and the work. The local instance forks run workers from a
  server with the heavy modules preloaded (``quant_assets/run_launcher.py``).

Prints seconds and the ratios daemon / in-process (the target is daemon <= 3x in-process).
Timings on a shared 2-core machine vary with its load: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from quant_assets.definitions import build_defs
from quant_assets.lib.settings import Settings
from quant_assets.local_dagster import DagsterDev
from quant_assets.local_instance import ensure_local_instance
from quant_assets.main_job import LAUNCH_RUN as LAUNCH

REPO_ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "SYNA"  # the one synthetic symbol registered: the XNYS session holds only it
MARKET = "XNYS"
FIRST = date(2024, 1, 2)  # Tuesday; sessions follow on consecutive weekdays

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


def in_process(defs: dg.Definitions, instance: dg.DagsterInstance, day: date, ticks: int) -> float:
    job = defs.resolve_job_def("tick_lake")
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=key(day), instance=instance, run_config=run_config(ticks)
    )
    assert result.success
    return time.perf_counter() - started


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


def daemon_run(dev: DagsterDev, location: str, day: date, ticks: int) -> tuple[float, float]:
    """(submit → SUCCESS seen, run start → end) in seconds."""
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
    submitted = time.perf_counter()
    launched = dev.graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    while True:
        run = dev.graphql(RUN, {"runId": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            assert run["status"] == "SUCCESS", run
            return time.perf_counter() - submitted, run["endTime"] - run["startTime"]
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
    args = parser.parse_args()
    days = iter(
        FIRST + timedelta(days=i) for i in range(0, 60) if (FIRST + timedelta(i)).weekday() < 5
    )

    with tempfile.TemporaryDirectory(prefix="ui_run_latency_") as tmp:
        root = Path(tmp)
        data_root, home = root / "data", root / "dagster_home"
        ensure_local_instance(home)
        settings = Settings.from_env({"QUANT_DATA_ROOT": str(data_root)})
        defs = build_defs(settings)
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("symbols", [SYMBOL])
        warm_up = in_process(defs, instance, next(days), 20_000)
        print(f"warm-up partition (imports Great Expectations): {warm_up:.1f}s", flush=True)

        rows: list[tuple[int, float, float, float, float]] = []
        measured: dict[int, tuple[float, float]] = {}
        for ticks in args.ticks:
            warm = in_process(defs, instance, next(days), ticks)
            cold = in_process_cold(data_root, next(days), ticks)
            measured[ticks] = (warm, cold)
            print(f"{ticks:>9} ticks: in-process warm {warm:.2f}s, cold {cold:.2f}s", flush=True)

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("QUANT_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "QUANT_DATA_ROOT": str(data_root),
            # Sensors and automation evaluate once at start-up, then not while we measure (a
            # cost_model_params run they launch would otherwise take the queue's one slot).
            "QUANT_LANDING_SENSOR_INTERVAL_S": "3600",
            "QUANT_RETRAIN_SENSOR_INTERVAL_S": "3600",
        }
        with (root / "dagster_dev.log").open("wb") as log:
            dev = DagsterDev.start(env, args=["--log-level", "warning"], output=log)
            try:
                location = dev.wait_ready()
                instance_home = dg.DagsterInstance.from_config(str(home))
                instance_home.add_dynamic_partitions("symbols", [SYMBOL])
                first, _ = daemon_run(dev, location, next(days), 20_000)
                print(f"first daemon run (starts the run launcher's forkserver): {first:.1f}s")
                for ticks in args.ticks:
                    wait_idle(instance_home)
                    total, worker = daemon_run(dev, location, next(days), ticks)
                    warm, cold = measured[ticks]
                    rows.append((ticks, warm, cold, total, worker))
                    print(f"{ticks:>9} ticks: daemon {total:.2f}s (run {worker:.2f}s)", flush=True)
            finally:
                dev.stop()

    print()
    print(
        f"{'ticks':>9} {'in-proc warm':>12} {'in-proc cold':>12} {'daemon':>8} {'run':>7}"
        f" {'daemon/warm':>11} {'daemon/cold':>11}"
    )
    for ticks, warm, cold, total, worker in rows:
        print(
            f"{ticks:>9} {warm:>11.2f}s {cold:>11.2f}s {total:>7.2f}s {worker:>6.2f}s"
            f" {total / warm:>10.2f}x {total / cold:>10.2f}x"
        )


if __name__ == "__main__":
    main()
