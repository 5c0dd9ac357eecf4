"""trained_policy: a Stable-Baselines3 policy per symbol, trained on its clean ticks."""

from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import symbol_partitions
from quant_assets.lib.warehouse.metrics_writer import MetricsWriter
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

TRAINING_GROUP = "research"
GPU_POOL = "gpu"  # one slot per GPU: two trainings never share a device

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
    from quant_assets.lib.training.pipeline import run_training

    symbol = context.partition_key
    wh = warehouse.get_warehouse()
    scratch = platform.scratch_dir
    with MetricsWriter(wh.metrics_sink(), scratch / "metrics_spool", close_sink=False) as metrics:
        outcome = run_training(
            store=object_store.get_store(),
            warehouse=wh,
            symbol=symbol,
            config=config.training_config(),
            run_id=context.run.run_id,
            scratch=scratch,
            metrics=metrics,
            start=date.fromisoformat(config.start_date) if config.start_date else None,
            end=date.fromisoformat(config.end_date) if config.end_date else None,
            reason=config.reason,
        )
    recipe = config.training_config()
    metadata: dict[str, Any] = {}
    if outcome.tensorboard_uri:
        metadata["tensorboard_logdir"] = dg.MetadataValue.path(outcome.tensorboard_uri)
    dashboard = training_dashboard_url(platform.grafana_url, context.run.run_id)
    if dashboard:
        metadata["training_metrics_dashboard"] = dg.MetadataValue.url(dashboard)
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
        },
        data_version=dg.DataVersion(outcome.policy_id),
    )
