"""RL training: config (rl-zoo style), resumable SB3 training with metrics, policy artifacts."""

from quant_assets.lib.training.artifact import (
    ArtifactInfo,
    LoadedPolicy,
    load_policy,
    save_artifact,
    save_training_artifact,
)
from quant_assets.lib.training.config import TrainingConfig, WalkForwardSplit
from quant_assets.lib.training.train import (
    MetricsCallback,
    MetricsSink,
    TrainingResult,
    train_policy,
)

__all__ = [
    "ArtifactInfo",
    "LoadedPolicy",
    "MetricsCallback",
    "MetricsSink",
    "TrainingConfig",
    "TrainingResult",
    "WalkForwardSplit",
    "load_policy",
    "save_artifact",
    "save_training_artifact",
    "train_policy",
]
