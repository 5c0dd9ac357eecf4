"""Out-of-sample evaluation (episodes, baselines, pooled statistics, tear sheet) and the gate."""

from quant_assets.lib.evaluation.episodes import BASELINES, EpisodeResult, evaluate_policy
from quant_assets.lib.evaluation.promotion import GateConfig, PromotionDecision, decide

__all__ = [
    "BASELINES",
    "EpisodeResult",
    "GateConfig",
    "PromotionDecision",
    "decide",
    "evaluate_policy",
]
