"""Out-of-sample evaluation (episodes, baselines, equity chart) and the promotion gate."""

from quant_assets.lib.evaluation.episodes import (
    BASELINES,
    EpisodeResult,
    equity_curve_png,
    evaluate_policy,
)
from quant_assets.lib.evaluation.promotion import PromotionDecision, decide

__all__ = [
    "BASELINES",
    "EpisodeResult",
    "PromotionDecision",
    "decide",
    "equity_curve_png",
    "evaluate_policy",
]
