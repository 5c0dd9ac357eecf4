"""The embedded (local) Dagster instance's ``dagster.yaml``, written into ``DAGSTER_HOME``.

Same shape as the prod instance (``dagster.yaml`` at the repository root) where it matters: queued
runs with a concurrency limit, the ``quant/gpu`` tag limit, the ``gpu`` pool, run monitoring; but
SQLite storage, and a run limit fitted to this machine's cores so sensors and backfills cannot
oversubscribe a laptop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# What run workers find already in memory: third-party modules, torch and SB3 (the training
# assets import them), the code location and its definitions, calendars and the GX context.
RUN_PRELOAD = (
    "dagster",
    "dagster._cli.api",
    "pandas",
    "pyarrow.parquet",
    "exchange_calendars",
    "great_expectations",
    "torch",
    "stable_baselines3",
    "quant_assets.definitions",
)
RUN_WARM_UP = (
    "quant_assets.definitions:environment_defs",
    "quant_assets.lib.ticks.sessions:warm_up",
    "quant_assets.lib.ticks.expectations:warm_up",
)
MARKER = "# written by `quant` for the local deployment; delete this line to keep your edits"


def max_concurrent_runs(cores: int | None = None) -> int:
    """A tick or calibration run keeps about one core busy; leave one for the webserver/daemon."""
    n = cores or os.cpu_count() or 1
    return max(1, n - 1) if n <= 4 else max(2, n // 2)


def local_instance_yaml(cores: int | None = None) -> str:
    return f"""{MARKER}
concurrency:
  pools:
    default_limit: 1  # pool "gpu" (trained_policy): one training step at a time
    granularity: op
  runs:
    max_concurrent_runs: {max_concurrent_runs(cores)}
    tag_concurrency_limits:
      - key: "quant/gpu"
        limit: 1
run_coordinator:  # the queue is looked at every second (Dagster's default: 5 s)
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
run_launcher:  # run workers forked from a process with the code location loaded and warm
  module: quant_assets.run_launcher
  class: ForkserverRunLauncher
  config:
    preload_modules: {json.dumps(list(RUN_PRELOAD))}
    warm_up: {json.dumps(list(RUN_WARM_UP))}
run_monitoring:
  enabled: true
  start_timeout_seconds: 600  # the first run also waits for the run zygote to warm up
  cancel_timeout_seconds: 60
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
sensors:
  use_threads: true
  num_workers: 2
schedules:
  use_threads: true
  num_workers: 1
telemetry:
  enabled: false
"""


def ensure_local_instance(home: Path, cores: int | None = None) -> Path:
    """Write ``home/dagster.yaml`` unless a user-owned one is there (no marker line)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    if path.exists() and not path.read_text().startswith(MARKER):
        return path
    text = local_instance_yaml(cores)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
