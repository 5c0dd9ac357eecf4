"""One training run end to end, independent of the orchestrator: read the symbol's clean ticks,
train with metrics streaming to the warehouse, store the artifact, register the policy."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from quant_assets.lib.costs import CalibratedParams, CostModelConfig
from quant_assets.lib.monitoring.training_progress import ProgressSink
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.dataset import PartitionRef, load_clean_ticks
from quant_assets.lib.ticks.manifest import ManifestEntry, ManifestStore
from quant_assets.lib.trading import build_time_bars
from quant_assets.lib.training.artifact import (
    ArtifactInfo,
    detect_code_version,
    save_training_artifact,
)
from quant_assets.lib.training.config import TrainingConfig
from quant_assets.lib.training.progress import ProgressCallback
from quant_assets.lib.training.train import MetricsSink, train_policy
from quant_assets.lib.warehouse.base import TrainingRun, Warehouse

ARTIFACT_PREFIX = "policies"
RUNS_PREFIX = "training_runs"  # per-run files that are not part of the policy: TensorBoard logs


def tensorboard_available() -> bool:
    """TensorBoard event files need the ``tensorboard`` package (a dev extra)."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class NoTrainingDataError(ValueError):
    """The requested symbol/date range has no clean ticks to train on."""


class NoCostModelError(ValueError):
    """No stored ``cost_model_params`` cover the training window: calibrate them first."""


@dataclass(frozen=True)
class StoredCostParams:
    """A ``cost_model_params`` row: the calibration and the end of the window it covers."""

    params: CalibratedParams
    as_of: datetime


def _train_split_calibration(
    train_bars: Any, cost_config: CostModelConfig | None, train_end: datetime, why: str
) -> StoredCostParams:
    """No stored calibration ends inside the train split (a file shorter than a session, say):
    calibrate on the train split itself, flagged as a fallback in the params' warnings, which
    the run's metadata and lineage carry."""
    from quant_assets.lib.trading.bars import calibrate_bars

    params = calibrate_bars(train_bars, cost_config)
    note = f"fallback: {why}; costs calibrated on the train split itself"
    return StoredCostParams(
        params.model_copy(update={"warnings": (*params.warnings, note)}), train_end
    )


def stored_cost_params(warehouse: Warehouse, symbol: str, not_after: datetime) -> StoredCostParams:
    """The latest stored calibration of ``symbol`` whose window ends by ``not_after`` (the end
    of the train split), so training costs never see validation or test data."""
    rows = warehouse.query(
        "SELECT as_of, params FROM cost_model_params WHERE symbol = :s AND as_of <= :t "
        "ORDER BY as_of DESC LIMIT 1",
        {"s": symbol, "t": not_after},
    ).to_pylist()
    if not rows:
        raise NoCostModelError(
            f"no cost_model_params for {symbol} with a window ending by {not_after.isoformat()}: "
            "materialize cost_model_params for the training days first"
        )
    raw = rows[0]["params"]
    try:
        params = CalibratedParams.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
    except ValidationError as exc:
        raise NoCostModelError(
            f"stored cost_model_params of {symbol} are of an older schema: recalibrate ({exc})"
        ) from exc
    as_of = rows[0]["as_of"]
    return StoredCostParams(params, as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC))


@dataclass(frozen=True)
class TrainingOutcome:
    policy_id: str
    name: str
    artifact_uri: str
    artifact_prefix: str
    partitions: list[PartitionRef]
    metrics: dict[str, float]
    num_timesteps: int
    resumed_from: int
    fps: float
    device: str
    cost_model_version: str
    tensorboard_uri: str | None = None
    cost_model_as_of: datetime | None = None
    cost_warnings: tuple[str, ...] = ()


def artifact_prefix(symbol: str, policy_id: str) -> str:
    return f"{ARTIFACT_PREFIX}/{symbol}/{policy_id}"


def upload_artifact(store: ObjectStore, local_dir: Path, prefix: str) -> str:
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        store.write_bytes(f"{prefix}/{path.relative_to(local_dir).as_posix()}", path.read_bytes())
    return store.uri(prefix)


def download_artifact(store: ObjectStore, prefix: str, cache_dir: Path) -> Path:
    """Local copy of a stored artifact (kept in ``cache_dir``: artifacts are immutable)."""
    target = cache_dir / prefix
    if not target.exists():
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        for key in store.list(prefix):
            out = tmp / key[len(prefix) + 1 :]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(store.read_bytes(key))
        tmp.rename(target)
    return target


def training_entries(
    warehouse: ManifestStore, symbol: str, start: date | None = None, end: date | None = None
) -> list[ManifestEntry]:
    """The symbol's current (session, symbol) builds in the range, from the manifest."""
    return manifest.read(warehouse, symbol=symbol, start=start, end=end)


def run_training(
    *,
    store: ObjectStore,
    warehouse: Warehouse,
    symbol: str,
    config: TrainingConfig,
    run_id: str,
    scratch: Path,
    metrics: MetricsSink | None = None,
    start: date | None = None,
    end: date | None = None,
    cost_config: CostModelConfig | None = None,
    reason: str = "manual",
    cost_fallback: bool = True,
    progress: ProgressSink | None = None,
) -> TrainingOutcome:
    """Train ``symbol``'s policy on its clean ticks, store the artifact, register the policy;
    ``progress`` receives timesteps done of the total while it trains."""
    ticks, refs = load_clean_ticks(store, training_entries(warehouse, symbol, start, end))
    if not refs:
        raise NoTrainingDataError(
            f"no clean_ticks partitions for {symbol} between {start or 'the start'} and "
            f"{end or 'now'}: materialize clean_ticks first"
        )
    bars = build_time_bars(ticks, config.bar_interval, symbol=symbol)
    train_bars = config.split.split(bars, min_bars=config.env.window + 3)["train"]
    train_end = datetime.fromtimestamp(int(train_bars.ts[-1]) / 1e9, tz=UTC)
    try:
        stored = stored_cost_params(warehouse, symbol, train_end)
    except NoCostModelError as exc:
        if not cost_fallback:
            raise
        stored = _train_split_calibration(train_bars, cost_config, train_end, str(exc))
    started = datetime.now(tz=UTC)
    run_config: dict[str, Any] = {
        **config.model_dump(mode="json"),
        "symbol": symbol,
        "reason": reason,
    }
    warehouse.upsert_training_run(
        TrainingRun(
            run_id=run_id,
            algorithm=config.algorithm,
            started_at=started,
            config=run_config,
            data_version=",".join(f"{r.partition_key}={r.data_version}" for r in refs),
        )
    )
    # Checkpoints live under a key of the symbol and config, so a killed run that is retried
    # (a new Dagster run id) resumes instead of starting over.
    checkpoints = scratch / "checkpoints" / symbol / config.resume_hash()[:16]
    tb_dir = scratch / "tensorboard" / run_id if tensorboard_available() else None
    try:
        result = train_policy(
            bars,
            config,
            cost_config=cost_config if cost_config is not None else stored.params.config,
            cost_params=stored.params,
            out_dir=checkpoints,
            metrics=metrics,
            run_id=run_id,
            tensorboard_dir=tb_dir,
            callbacks=(
                [ProgressCallback(progress, config.total_timesteps)] if progress is not None else []
            ),
        )
        local = scratch / "artifacts" / run_id
        info: ArtifactInfo = save_training_artifact(
            result,
            local,
            partitions=[r.to_dict() for r in refs],
            overwrite=True,
            extra_lineage={
                "cost_model_as_of": stored.as_of.isoformat(),
                "cost_model_params": stored.params.model_dump(mode="json"),
            },
        )
        prefix = artifact_prefix(symbol, info.policy_id)
        uri = upload_artifact(store, local, prefix)
        tb_uri = (
            upload_artifact(store, tb_dir, f"{RUNS_PREFIX}/{symbol}/{run_id}/tensorboard")
            if tb_dir is not None and tb_dir.is_dir()
            else None
        )
        warehouse.register_policy(
            info.policy_id,
            run_id=run_id,
            algorithm=config.algorithm,
            artifact_uri=uri,
            metrics={**result.metrics, "symbol": symbol},
        )
    except BaseException:
        warehouse.upsert_training_run(
            TrainingRun(
                run_id=run_id,
                algorithm=config.algorithm,
                started_at=started,
                config=run_config,
                ended_at=datetime.now(tz=UTC),
                status="failed",
            )
        )
        raise
    warehouse.upsert_training_run(
        TrainingRun(
            run_id=run_id,
            algorithm=config.algorithm,
            started_at=started,
            policy_id=info.policy_id,
            config=run_config,
            data_version=",".join(f"{r.partition_key}={r.data_version}" for r in refs),
            code_version=detect_code_version(),
            ended_at=datetime.now(tz=UTC),
            status="succeeded",
        )
    )
    return TrainingOutcome(
        policy_id=info.policy_id,
        name=info.name,
        artifact_uri=uri,
        artifact_prefix=prefix,
        partitions=refs,
        metrics=dict(result.metrics),
        num_timesteps=result.num_timesteps,
        resumed_from=result.resumed_from,
        fps=result.fps,
        device=result.device,
        cost_model_version=result.cost_params.version,
        tensorboard_uri=tb_uri,
        cost_model_as_of=stored.as_of,
        cost_warnings=stored.params.warnings,
    )
