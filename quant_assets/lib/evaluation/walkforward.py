"""Walk-forward retraining: one challenger per test fold, trained only on data before the fold.

The evaluation's test block is cut into ``test_folds`` consecutive folds (episodes grouped as in
:func:`~quant_assets.lib.evaluation.episodes.evaluate_policy`). A real walk-forward refits the
model for every fold on the data available before it, then trades the fold out of sample
(Pardo 2008, *The Evaluation and Optimization of Trading Strategies*, ch. 11; López de Prado
2018, ch. 7, with an embargo). Here, per fold ``f`` (expanding window):

* data: every bar before the fold's first decision bar, split with the recorded recipe's
  train : validation proportions (``split.fractions``), the train block cut back by
  ``embargo_sessions`` (at least 1) whole sessions before the fold (:func:`fold_split`);
* model: :func:`~quant_assets.lib.training.train.train_policy` with the policy's recorded
  config (algorithm, hyperparameters, seed, env), only the split replaced (and ``total_timesteps``
  when a budget is given); costs calibrated on the fold's own train block;
* fold 0: its data are the recorded policy's own (train/validation end before the test block),
  so the trained policy itself is fold 0's model, not retrained (``reused``);
* a fold whose data before it are too few for the recipe's split (a short history with the
  embargo) is traded by the previous fold's model, recorded as reused with the reason in
  ``note``: still out of sample, since that model saw only older data.

The gate then decides on the pooled out-of-sample returns of all folds' models. Each fold's
windows, model id (content hash), seed and timesteps are kept in a :class:`FoldModel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.evaluation.episodes import episode_windows
from quant_assets.lib.trading.bars import Bars
from quant_assets.lib.training.config import SplitTooSmallError, TrainingConfig, WalkForwardSplit

Obs = NDArray[np.float32]
NS_PER_DAY = 86_400 * 1_000_000_000


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _ns(value: Any) -> int:
    d = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return round(d.timestamp() * 1e6) * 1000


@dataclass(frozen=True)
class FoldModel:
    """The model that traded one test fold and the windows it saw (UTC)."""

    fold: int
    act: Callable[[Obs], Any]
    model_id: str  # content hash (config incl. split, weights, normaliser): the policy_id scheme
    seed: int
    timesteps: int
    reused: bool  # the evaluated policy itself (fold 0), not a refit
    train_first: datetime
    train_last: datetime
    validation_last: datetime | None
    test_first: datetime  # first decision bar of the fold
    test_last: datetime
    note: str = ""  # why a fold was not refit

    def record(self) -> dict[str, Any]:
        """JSON-able row for summary.json and the asset's metadata."""
        return {
            "fold": self.fold,
            "model_id": self.model_id,
            "seed": self.seed,
            "timesteps": self.timesteps,
            "reused": self.reused,
            "train_first": self.train_first.isoformat(),
            "train_last": self.train_last.isoformat(),
            "validation_last": self.validation_last.isoformat() if self.validation_last else None,
            "test_first": self.test_first.isoformat(),
            "test_last": self.test_last.isoformat(),
            "note": self.note,
        }


def fold_test_bounds(test: Bars, window: int, n_episodes: int, folds: int) -> list[tuple[int, int]]:
    """``(first decision bar, last bar)`` ns of each fold of ``test`` (evaluate_policy's cut)."""
    windows = episode_windows(len(test), window, n_episodes)
    per = n_episodes // folds
    out = []
    for f in range(folds):
        first = windows[f * per][0]
        start, steps = windows[(f + 1) * per - 1]
        last = min(start + steps + 1, len(test) - 1)  # the episode's exit fills one bar later
        out.append((int(test.ts[first]), int(test.ts[last])))
    return out


def fold_split(bars: Bars, test_first_ns: int, base: WalkForwardSplit) -> WalkForwardSplit:
    """The recipe's split for a fold whose first decision bar ends at ``test_first_ns``: bars
    before it in the recipe's train : validation proportions, test from it on, embargo >= 1."""
    pre = int(np.searchsorted(bars.ts, test_first_ns, side="left"))
    f_train, f_val = base.fractions[:2] if base.fractions is not None else (0.5, 0.2)
    cut = max(math.floor(pre * f_train / (f_train + f_val)), 1)
    return WalkForwardSplit(
        boundaries=(_utc(int(bars.ts[cut])), _utc(test_first_ns)),
        embargo_sessions=max(base.embargo_sessions, 1),
    )


def sessions_between(bars: Bars, first_ns: int, last_ns: int) -> int:
    """Sessions (UTC days with bars) strictly between the days of ``first_ns`` and ``last_ns``."""
    days = np.unique(np.asarray(bars.ts, dtype=np.int64) // NS_PER_DAY)
    lo, hi = first_ns // NS_PER_DAY, last_ns // NS_PER_DAY
    return int(np.count_nonzero((days > lo) & (days < hi)))


def retrain_folds(
    bars: Bars,
    config: TrainingConfig,
    bounds: Sequence[tuple[int, int]],
    *,
    fold0: FoldModel,
    cost_config: CostModelConfig,
    out_dir: Path,
    run_id: str,
    timesteps: int | None = None,
) -> list[FoldModel]:
    """``fold0`` (the evaluated policy) then one model per later fold, trained by
    :func:`train_policy` on that fold's :func:`fold_split` of ``bars`` (bars after the fold are
    never passed in). ``timesteps`` overrides the recipe's run length (None: as recorded)."""
    from quant_assets.lib.training.artifact import ObsNormalizer, policy_content_hash
    from quant_assets.lib.training.train import train_policy

    models = [fold0]
    for f, (first_ns, last_ns) in enumerate(bounds):
        if f == 0:
            continue
        upto = int(np.searchsorted(bars.ts, last_ns, side="right"))
        data = bars.slice(0, upto)
        recipe = config.model_copy(
            update={
                "split": fold_split(data, first_ns, config.split),
                "total_timesteps": timesteps or config.total_timesteps,
                "torch_threads": 1,
            }
        )
        try:
            result = train_policy(
                data,
                recipe,
                cost_config=cost_config,
                out_dir=out_dir / f"fold_{f}",
                run_id=f"{run_id}-fold{f}",
                resume=False,
            )
        except SplitTooSmallError as exc:
            models.append(
                FoldModel(
                    **{
                        **models[-1].__dict__,
                        "fold": f,
                        "reused": True,
                        "test_first": _utc(first_ns),
                        "test_last": _utc(last_ns),
                        "note": f"not refit, fold {len(models) - 1}'s model trades it: {exc}",
                    }
                )
            )
            continue
        normalizer = (
            ObsNormalizer.from_vec_normalize(result.vec_normalize)
            if result.vec_normalize is not None
            else None
        )
        splits = result.splits
        models.append(
            FoldModel(
                fold=f,
                act=result.act,
                model_id=policy_content_hash(result.model, normalizer, recipe),
                seed=recipe.seed,
                timesteps=result.num_timesteps,
                reused=False,
                train_first=splits["train"]["first_ts"],
                train_last=splits["train"]["last_ts"],
                validation_last=splits["validation"]["last_ts"],
                test_first=_utc(first_ns),
                test_last=_utc(last_ns),
            )
        )
    return models


def recorded_fold0(
    policy: Any, bounds: Sequence[tuple[int, int]], timesteps: int | None = None
) -> FoldModel:
    """The evaluated policy (a ``LoadedPolicy``) as fold 0's model, windows from its lineage."""
    splits = policy.lineage.get("splits") or {}
    train, val = splits.get("train") or {}, splits.get("validation") or {}
    first_ns, last_ns = bounds[0]
    return FoldModel(
        fold=0,
        act=policy,
        model_id=str(policy.policy_id),
        seed=int(policy.config.seed),
        timesteps=int(
            timesteps
            if timesteps is not None
            else policy.lineage.get("num_timesteps", policy.config.total_timesteps)
        ),
        reused=True,
        train_first=_utc(_ns(train["first_ts"])) if train else _utc(0),
        train_last=_utc(_ns(train["last_ts"])) if train else _utc(0),
        validation_last=_utc(_ns(val["last_ts"])) if val else None,
        test_first=_utc(first_ns),
        test_last=_utc(last_ns),
    )


def single_model(fold0: FoldModel, bounds: Sequence[tuple[int, int]]) -> list[FoldModel]:
    """No retraining: the evaluated policy trades every fold (recorded as reused)."""
    return [
        FoldModel(
            **{
                **fold0.__dict__,
                "fold": f,
                "test_first": _utc(first),
                "test_last": _utc(last),
            }
        )
        for f, (first, last) in enumerate(bounds)
    ]
