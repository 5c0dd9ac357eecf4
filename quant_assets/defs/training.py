"""trained_policy: a Stable-Baselines3 policy per symbol, trained on its clean ticks."""

from contextlib import ExitStack
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import symbol_partitions
from quant_assets.lib.monitoring.system_sampler import SystemSampler
from quant_assets.lib.monitoring.training_progress import ProgressSink, TrainingProgress
from quant_assets.lib.settings import process_environment
from quant_assets.lib.training.profiling import profile_training
from quant_assets.lib.warehouse.base import TrainingRun
from quant_assets.lib.warehouse.metrics_writer import MetricsWriter
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

TRAINING_GROUP = "research"
GPU_POOL = "gpu"  # one slot per GPU: two trainings never share a device
GPU_SAMPLE_INTERVAL_ENV = "QUANT_GPU_SAMPLE_INTERVAL_S"  # NVML/writer sampling period

# A symbol's policy reads its sessions through the manifest; in Dagster's graph it depends on
# the market-session partitions as a whole (the symbol is not a partition dimension of ticks).
by_symbol = dg.AllPartitionMapping()


class TrainedPolicyConfig(dg.Config):
    """rl-zoo style: algorithm + hyperparameters; the walk-forward split is part of the config."""

    algorithm: str = "PPO"
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    total_timesteps: int = 20_000
    n_envs: int = 8
    seed: int = 0
    device: str = "cpu"
    torch_threads: int = 1
    bar_interval: str = "1min"
    split_fractions: list[float] = Field(
        default_factory=lambda: [0.5, 0.2, 0.3],
        description="train / validation / test fractions of the bars (test = the evidence)",
    )
    embargo_sessions: int = Field(
        default=1,
        ge=0,
        description="whole sessions between the train and test blocks (0 only for one-session "
        "smoke tests: without it serially correlated bars leak into the test)",
    )
    test_folds: int = Field(default=2, ge=1, description="walk-forward out-of-sample test folds")
    start_date: str | None = Field(default=None, description="first session of data (inclusive)")
    end_date: str | None = Field(default=None, description="last session of data (inclusive)")
    checkpoint_every: int = 10_000
    reason: str = Field(default="manual", description="why this run was requested (sensors)")
    profile: bool = Field(
        default=False,
        description="profile this training with the torch profiler (env stepping, H2D copies, "
        "forward/backward); trace and summary stored under profiles/<symbol>/<run_id>/",
    )

    def training_config(self) -> Any:
        from quant_assets.lib.training import TrainingConfig, WalkForwardSplit

        return TrainingConfig(
            algorithm=self.algorithm,  # type: ignore[arg-type]
            hyperparams=self.hyperparams,
            total_timesteps=self.total_timesteps,
            n_envs=self.n_envs,
            seed=self.seed,
            device=self.device,  # type: ignore[arg-type]
            torch_threads=self.torch_threads,
            bar_interval=self.bar_interval,
            split=WalkForwardSplit(
                fractions=tuple(self.split_fractions),  # type: ignore[arg-type]
                embargo_sessions=self.embargo_sessions,
                test_folds=self.test_folds,
            ),
            checkpoint_every=self.checkpoint_every,
        )


def progress_events(context: dg.AssetExecutionContext) -> ProgressSink:
    """A training-progress sink writing engine events of this run: the UI's run log shows
    them, and ``quant demo`` reads them back for its progress bar."""
    from dagster._core.events import EngineEventData

    def sink(progress: TrainingProgress) -> None:
        context.instance.report_engine_event(
            progress.message(), context.run, EngineEventData(metadata=progress.metadata())
        )

    return sink


def training_dashboard_url(base_url: str | None, run_id: str) -> str | None:
    """Link to the training-metrics dashboard of a run, or None without a configured URL."""
    base = (base_url or "").rstrip("/")
    return f"{base}/d/quant-training/training?var-run_id={run_id}" if base else None


@dg.asset(
    partitions_def=symbol_partitions,
    group_name=TRAINING_GROUP,
    kinds={"pytorch", "stable_baselines3"},
    deps=[
        dg.AssetDep("clean_ticks", partition_mapping=by_symbol),
        dg.AssetDep("cost_model_params", partition_mapping=by_symbol),
    ],
    pool=GPU_POOL,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    description="SB3 policy trained on the symbol's clean ticks (walk-forward split), with its "
    "artifact in the object store and its metrics streamed to the warehouse.",
)
def trained_policy(
    context: dg.AssetExecutionContext,
    config: TrainedPolicyConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.MaterializeResult:
    import torch

    from quant_assets.lib.training.pipeline import run_training
    from quant_assets.lib.training.placement import resolve_placement

    placement = resolve_placement(
        config.device,
        process_environment(),
        cuda_available=torch.cuda.is_available(),
        cuda_devices=torch.cuda.device_count(),
    )
    if placement.warning:
        context.log.warning(placement.warning)
    training_config = config.training_config().model_copy(update={"device": placement.device})
    symbol = context.partition_key
    run_id = context.run.run_id
    wh = warehouse.get_warehouse()
    scratch = platform.scratch_dir
    store = object_store.get_store()
    interval = float(process_environment().get(GPU_SAMPLE_INTERVAL_ENV) or "10")
    # Registered now (run_training completes the row) so the sampler's system/* metrics of this
    # run are accepted from its first sample.
    wh.upsert_training_run(
        TrainingRun(run_id, config.algorithm, datetime.now(tz=UTC), config={"symbol": symbol})
    )
    with ExitStack() as stack:
        metrics = stack.enter_context(
            MetricsWriter(wh.metrics_sink(), scratch / "metrics_spool", close_sink=False)
        )
        sampler = stack.enter_context(
            SystemSampler(
                lambda name, step, value: metrics.log(run_id, name, step, value, on_invalid="skip"),
                interval_s=interval,
                writer_stats=metrics.stats,
            )
        )
        context.log.info(f"system sampler: {sampler.status}, every {interval:g} s")
        profile = (
            stack.enter_context(
                profile_training(scratch / "profiles" / run_id, placement.device, config.algorithm)
            )
            if config.profile
            else None
        )
        outcome = run_training(
            store=store,
            warehouse=wh,
            symbol=symbol,
            config=training_config,
            run_id=context.run.run_id,
            scratch=scratch,
            metrics=metrics,
            start=date.fromisoformat(config.start_date) if config.start_date else None,
            end=date.fromisoformat(config.end_date) if config.end_date else None,
            reason=config.reason,
            progress=progress_events(context),
        )
    recipe = config.training_config()
    metadata: dict[str, Any] = {}
    if outcome.tensorboard_uri:
        metadata["tensorboard_logdir"] = dg.MetadataValue.path(outcome.tensorboard_uri)
    dashboard = training_dashboard_url(platform.grafana_url, context.run.run_id)
    if dashboard:
        metadata["training_metrics_dashboard"] = dg.MetadataValue.url(dashboard)
    extra: dict[str, Any] = {"gpu_sampler": sampler.status, "system_samples": sampler.samples}
    if sampler.error:
        context.log.warning(f"system sampler stopped: {sampler.error}")
    if profile is not None and profile.summary is not None:
        prefix = f"profiles/{symbol}/{run_id}"
        store.write_bytes(f"{prefix}/trace.json", profile.trace_path.read_bytes())
        store.write_bytes(f"{prefix}/summary.json", profile.summary_path.read_bytes())
        extra["profile_uri"] = dg.MetadataValue.path(store.uri(prefix))
        extra["profile_phases_ms"] = dg.MetadataValue.json(profile.summary.phases_ms)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "hyperparameters": dg.MetadataValue.json(
                {
                    "algorithm": recipe.algorithm,
                    "total_timesteps": recipe.total_timesteps,
                    "n_envs": recipe.n_envs,
                    "seed": recipe.seed,
                    "bar_interval": recipe.bar_interval,
                    **recipe.hyperparams,
                }
            ),
            "training_config": dg.MetadataValue.json(recipe.model_dump(mode="json")),
            "policy_id": outcome.policy_id,
            "policy_name": outcome.name,
            "artifact_uri": dg.MetadataValue.path(outcome.artifact_uri),
            "artifact_prefix": outcome.artifact_prefix,
            "reason": config.reason,
            "timesteps": outcome.num_timesteps,
            "resumed_from": outcome.resumed_from,
            "fps": round(outcome.fps, 1),
            "device": outcome.device,
            "cost_model_version": outcome.cost_model_version,
            "cost_model_as_of": (
                outcome.cost_model_as_of.isoformat() if outcome.cost_model_as_of else None
            ),
            "cost_model_warnings": list(outcome.cost_warnings),
            "training_partitions": [r.to_dict() for r in outcome.partitions],
            "last_training_day": outcome.partitions[-1].partition_key.split("|")[0],
            **{k: round(v, 6) for k, v in outcome.metrics.items()},
            **extra,
        },
        data_version=dg.DataVersion(outcome.policy_id),
    )
