"""The main job (``quant demo``) as the deployment runs it: through the instance and its daemon.

Vendor files are dropped into the landing zone, where ``landing_sensor`` ingests them and
``landed_partitions_sensor`` builds exactly the partitions they touched; the synthetic partitions
are one asset backfill; ``cost_model_params`` recalibrates through declarative automation; the
policy is one ``train_policy`` run. Nothing runs in this process: it submits to ``dagster dev``
(started headless by the CLI) and watches the instance, so the runs, tags, backfills and sensor
cursors are the ones a later ``quant ui`` sees, and it repeats none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType

from quant_assets.lib.monitoring.training_progress import TrainingProgress
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.landing import AUTO_SOURCE, INCOMING, REJECTED
from quant_assets.lib.ticks.rejections import RejectionKind, read_rejections
from quant_assets.lib.ticks.sessions import market_for
from quant_assets.local_dagster import DagsterDev

TICK_ASSETS = ("raw_ticks", "clean_ticks", "tick_quarantine")
ACTIVE = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    }
)
IDLE_S = 20.0  # nothing running or new for this long (sensors at 5 s): the flow has settled
TIMEOUT_S = 3600.0

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


@dataclass
class PartitionOutcome:
    partition: str
    success: bool
    raw: int | None = None
    clean: int | None = None
    quarantined: int | None = None
    checks: dict[str, bool] = field(default_factory=dict)


@dataclass
class MainJobReport:
    partitions: list[PartitionOutcome] = field(default_factory=list)
    ingested: dict[str, list[str]] = field(default_factory=dict)  # file -> session|market keys
    rejected: dict[str, str] = field(default_factory=dict)  # file -> reason
    unsupported: dict[str, str] = field(default_factory=dict)  # well-formed, deliberately unread
    calibrated: dict[str, bool] = field(default_factory=dict)  # partition -> cost run succeeded
    training: dict[str, object] = field(default_factory=dict)
    runs: int = 0
    seconds: float = 0.0
    settled: bool = True

    @property
    def unexpected_failures(self) -> list[str]:
        failed = [p.partition for p in self.partitions if not p.success]
        failed += [f"costs {k}" for k, ok in self.calibrated.items() if not ok]
        if self.training and not self.training["success"]:
            failed.append("train_policy")
        if not self.settled:
            failed.append(f"did not settle in {TIMEOUT_S:.0f}s")
        return failed


@dataclass(frozen=True)
class Stage:
    """Progress of one stage: ``done`` of ``total`` (total may grow as work is discovered)."""

    name: str
    done: int
    total: int


ProgressSink = Callable[[Sequence[Stage]], None]


def _no_progress(stages: Sequence[Stage]) -> None:
    return None


def _metadata(mat: dg.AssetMaterialization) -> dict[str, Any]:
    return {k: v.value for k, v in mat.metadata.items()}


class _Watch:
    """What the instance says happened since ``since`` (runs, materializations, checks)."""

    def __init__(self, instance: dg.DagsterInstance, since: datetime) -> None:
        self.instance = instance
        self.since = since
        self._progress: dict[str, tuple[str | None, TrainingProgress | None]] = {}

    def training_progress(self, run_id: str) -> TrainingProgress | None:
        """The latest progress event the run's training step wrote (engine events)."""
        cursor, latest = self._progress.get(run_id, (None, None))
        connection = self.instance.get_records_for_run(
            run_id, cursor=cursor, of_type=DagsterEventType.ENGINE_EVENT
        )
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            data = event.event_specific_data if event is not None else None
            metadata = getattr(data, "metadata", None) or {}
            found = TrainingProgress.from_metadata({k: v.value for k, v in metadata.items()})
            latest = found or latest
        self._progress[run_id] = (connection.cursor, latest)
        return latest

    def runs(self) -> list[dg.DagsterRun]:
        records = self.instance.get_run_records(dg.RunsFilter(created_after=self.since))
        return [r.dagster_run for r in records]

    def materialized(self, asset: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """partition -> (run id, metadata) of its latest materialization since ``since``."""
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(asset), after_timestamp=self.since.timestamp()
            ),
            limit=10_000,
            ascending=True,
        ).records
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for record in records:
            mat = record.asset_materialization
            if mat is not None:
                out[str(mat.partition)] = (record.run_id, _metadata(mat))
        return out

    def check_results(self, run_id: str) -> dict[str, bool]:
        records = self.instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        out: dict[str, bool] = {}
        for record in records:
            event = record.event_log_entry.dagster_event
            if event is not None:
                evaluation = event.event_specific_data
                out[evaluation.check_name] = bool(evaluation.passed)  # type: ignore[union-attr]
        return out


def land_vendor_files(store: ObjectStore, vendor_files: Sequence[tuple[Path, str]]) -> int:
    for path, relative in vendor_files:
        store.write_bytes(f"{INCOMING}/{AUTO_SOURCE}/{relative}", path.read_bytes())
    return len(landing.list_incoming(store))


def rejections(store: ObjectStore, since: datetime) -> tuple[dict[str, str], dict[str, str]]:
    """Files moved to landing/rejected/ since ``since``, with their one-line reason:
    (malformed, unsupported) by the rejection's recorded kind — a well-formed file of a kind
    deliberately not read (DBN mbo) is reported apart and does not fail the demo."""
    out: dict[str, str] = {}
    unsupported: dict[str, str] = {}
    for rejection in read_rejections(store, REJECTED, since):
        target = unsupported if rejection.kind is RejectionKind.UNSUPPORTED else out
        target[rejection.file] = rejection.reason
    return out, unsupported


def run_main_job(
    dev: DagsterDev,
    location: str,
    instance: dg.DagsterInstance,
    store: ObjectStore,
    days: Sequence[date],
    synthetic_symbols: Sequence[str],
    vendor_files: Sequence[tuple[Path, str]],
    progress: ProgressSink = _no_progress,
    train_symbol: str | None = None,
    train_timesteps: int = 4_096,
) -> MainJobReport:
    started = time.monotonic()
    since = datetime.now(tz=UTC)
    watch = _Watch(instance, since)
    n_files = land_vendor_files(store, vendor_files)

    # Partitions are market-sessions: the synthetic symbols of one market share one per day.
    synthetic = sorted(
        {f"{d.isoformat()}|{market_for(s).name}" for d in days for s in synthetic_symbols}
    )
    if synthetic:
        instance.add_dynamic_partitions("symbols", list(synthetic_symbols))
        launched = dev.graphql(
            LAUNCH_BACKFILL,
            {
                "params": {
                    "assetSelection": [{"path": [a]} for a in TICK_ASSETS],
                    "partitionNames": synthetic,
                    "title": "quant demo: synthetic ticks",
                    "tags": [{"key": "quant/demo", "value": "synthetic"}],
                }
            },
        )["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {launched}")

    training_run: str | None = None
    expected: set[str] = set(synthetic)
    last_change, last_state = time.monotonic(), None
    settled = False
    while time.monotonic() - started < TIMEOUT_S:
        runs = watch.runs()
        active = [r for r in runs if r.status in ACTIVE]
        landed = watch.materialized("landing_files")
        expected |= {k for _, meta in landed.values() for k in meta.get("tick_partitions") or []}
        built = watch.materialized("clean_ticks")
        calibrated = watch.materialized("cost_model_params")
        incoming = landing.list_incoming(store)
        ingest_done = sum(r.job_name == "ingest_landing" and r.status not in ACTIVE for r in runs)
        stages = [
            Stage("ingest", min(ingest_done, n_files), n_files),
            Stage("build", len(set(built) & expected), len(expected)),
            Stage("calibrate", len(calibrated), max(len(calibrated), len(built))),
        ]
        if train_symbol:
            stages.append(_training_stage(watch, training_run, active, train_timesteps))
        progress(stages)

        state = (len(runs), len(active), len(built), len(calibrated), len(landed), len(incoming))
        if state != last_state:
            last_state, last_change = state, time.monotonic()
        # Settled: nothing waiting in the landing zone, no run queued or running, and nothing new
        # for long enough that every sensor (5 s here) has looked at the latest state.
        if not incoming and not active and time.monotonic() - last_change > IDLE_S:
            if train_symbol and training_run is None:
                training_run = _launch_training(dev, location, train_symbol, train_timesteps)
                last_change = time.monotonic()
                continue
            settled = True
            break
        time.sleep(1.0)

    report = _report(watch, store, since, expected, training_run)
    report.seconds = time.monotonic() - started
    report.settled = settled
    return report


def _training_stage(
    watch: _Watch, run_id: str | None, active: Sequence[dg.DagsterRun], timesteps: int
) -> Stage:
    """Timesteps trained of the total, from the run's progress events; all of them once the
    run has finished (whatever its outcome: the summary says which)."""
    if run_id is None:
        return Stage("train", 0, timesteps)
    if all(r.run_id != run_id for r in active):
        return Stage("train", timesteps, timesteps)
    progress = watch.training_progress(run_id)
    if progress is None:
        return Stage("train", 0, timesteps)
    return Stage("train", min(progress.timesteps, progress.total), progress.total)


def _launch_training(dev: DagsterDev, location: str, symbol: str, timesteps: int) -> str:
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "train_policy",
        },
        "runConfigData": {
            "ops": {
                "trained_policy": {
                    "config": {
                        "total_timesteps": timesteps,
                        "reason": "quant demo",
                        # 4 envs x 128 steps per update: a learning curve of several updates
                        # (timesteps / 512), still seconds on a laptop
                        "n_envs": 4,
                        "hyperparams": {"n_steps": 128, "batch_size": 128, "n_epochs": 4},
                        # 4 sessions: train on 2 (costs calibrated on the first), embargo the
                        # 3rd, test on the 4th
                        "split_fractions": [0.6, 0.15, 0.25],
                    }
                },
                "episodes": {"config": {"episodes_per_fold": 4}},
            }
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": symbol}]},
    }
    launched = dev.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"train_policy not launched: {launched}")
    return str(launched["run"]["runId"])


def _report(
    watch: _Watch,
    store: ObjectStore,
    since: datetime,
    expected: set[str],
    training_run: str | None,
) -> MainJobReport:
    runs = watch.runs()
    report = MainJobReport(runs=len(runs))
    for _, meta in watch.materialized("landing_files").values():
        report.ingested[str(meta.get("file"))] = list(meta.get("tick_partitions") or [])
    report.rejected, report.unsupported = rejections(store, since)
    built = watch.materialized("clean_ticks")
    checks_by_run: dict[str, dict[str, bool]] = {}
    for key in sorted(expected):
        if key not in built:
            report.partitions.append(PartitionOutcome(partition=key, success=False))
            continue
        run_id, meta = built[key]
        if run_id not in checks_by_run:
            checks_by_run[run_id] = watch.check_results(run_id)
        by_partition = meta.get("by_partition") or {key: meta}
        m = by_partition.get(key, meta)
        report.partitions.append(
            PartitionOutcome(
                partition=key,
                success=True,
                raw=m.get("raw_rows"),
                clean=m.get("rows"),
                quarantined=m.get("quarantined_rows"),
                checks=checks_by_run[run_id],
            )
        )
    for key in watch.materialized("cost_model_params"):
        report.calibrated[key] = True
    costs = dg.AssetKey("cost_model_params")
    for r in runs:  # a failed calibration run (automation runs may cover a range: by run)
        if r.status == dg.DagsterRunStatus.FAILURE and costs in (r.asset_selection or ()):
            report.calibrated[f"run {r.run_id[:8]}"] = False
    if training_run is not None:
        run = watch.instance.get_run_by_id(training_run)
        trained = watch.materialized("trained_policy")
        gated = watch.materialized("policy_promotion")
        policy = next((m for r, m in trained.values() if r == training_run), {})
        decision = next((m for r, m in gated.values() if r == training_run), {})
        report.training = {
            "success": run is not None and run.status == dg.DagsterRunStatus.SUCCESS,
            "policy": policy.get("policy_name"),
            "promoted": decision.get("promoted"),
            "reason": decision.get("reason"),
        }
    return report
