"""Walk-forward retraining: fold windows never reach the fold (+ embargo); each fold's model is
trained on its own window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.evaluation.evidence import fold_models_markdown
from quant_assets.lib.evaluation.walkforward import (
    FoldModel,
    fold_split,
    fold_test_bounds,
    retrain_folds,
    sessions_between,
    single_model,
)
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig
from quant_assets.lib.training.config import TrainingConfig, WalkForwardSplit

# ten days of 15-minute bars (96 a day): sessions are the UTC days with bars
BARS = random_walk_bars(960, seed=4, bar_seconds=900.0, start_ns=1_704_153_600 * 10**9)
ENV = TradingEnvConfig(window=4, norm_window=20)
SPLIT = WalkForwardSplit(fractions=(0.4, 0.2, 0.4), embargo_sessions=1, test_folds=3)
TEST = SPLIT.split(BARS, min_bars=ENV.window + 3)["test"]


def _fold0(bounds: list[tuple[int, int]]) -> FoldModel:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    return FoldModel(0, lambda obs: np.zeros(1, np.float32), "recorded", 0, 0, True, t, t, t,
                     datetime.fromtimestamp(bounds[0][0] / 1e9, tz=UTC),
                     datetime.fromtimestamp(bounds[0][1] / 1e9, tz=UTC))  # fmt: skip


def _recipe(split: WalkForwardSplit) -> TrainingConfig:
    """A recipe that trains in a second: 16 timesteps of PPO on one env."""
    return TrainingConfig(
        total_timesteps=16,
        n_envs=1,
        hyperparams={"n_steps": 8, "batch_size": 8, "n_epochs": 1},
        env=ENV,
        bar_interval="15min",
        split=split,
        checkpoint_every=1000,
    )


def test_fold_test_bounds_consecutive_folds_cover_the_test_block() -> None:
    bounds = fold_test_bounds(TEST, ENV.window, n_episodes=6, folds=3)
    assert len(bounds) == 3
    assert bounds[0][0] == int(TEST.ts[ENV.window])  # the first decision bar
    assert bounds[-1][1] == int(TEST.ts[-1])
    for (a0, a1), (b0, _) in itertools.pairwise(bounds):
        assert a0 < a1 <= b0 + 2 * 900 * 10**9  # the exit of the last episode fills one bar on


@pytest.mark.parametrize("embargo", [0, 1, 2])
def test_fold_split_training_ends_embargo_sessions_before_the_fold(embargo: int) -> None:
    base = SPLIT.model_copy(update={"embargo_sessions": embargo})
    for first, last in fold_test_bounds(TEST, ENV.window, 6, 3):
        data = BARS.slice(0, int(np.searchsorted(BARS.ts, last, side="right")))
        parts = fold_split(data, first, base).split(data, min_bars=ENV.window + 3)
        train, val, test = parts["train"], parts["validation"], parts["test"]
        assert int(test.ts[0]) == first and int(test.ts[-1]) == last
        assert int(val.ts[-1]) < first and int(train.ts[-1]) < int(val.ts[0])
        # at least max(embargo, 1) whole sessions between training data and the fold
        assert sessions_between(BARS, int(train.ts[-1]), first) >= max(embargo, 1)


def test_single_model_reuses_the_policy_for_every_fold() -> None:
    bounds = fold_test_bounds(TEST, ENV.window, 6, 3)
    models = single_model(_fold0(bounds), bounds)
    assert [m.fold for m in models] == [0, 1, 2]
    assert {m.model_id for m in models} == {"recorded"} and all(m.reused for m in models)
    assert [int(m.test_first.timestamp() * 1e9) for m in models] == [b[0] for b in bounds]


def test_retrain_folds_trains_each_fold_on_its_own_window(tmp_path: Path) -> None:
    config = _recipe(SPLIT)
    bounds = fold_test_bounds(TEST, ENV.window, 6, 3)
    models = retrain_folds(
        BARS,
        config,
        bounds,
        fold0=_fold0(bounds),
        cost_config=CostModelConfig(),
        out_dir=tmp_path,
        run_id="wf",
    )
    assert [m.fold for m in models] == [0, 1, 2] and models[0].reused
    refits = models[1:]
    assert not any(m.reused for m in refits)
    assert len({m.model_id for m in models}) == 3  # distinct models
    for m, (first, _last) in zip(refits, bounds[1:], strict=True):
        assert m.timesteps >= 16 and m.seed == 0
        assert int(m.test_first.timestamp() * 1e9) == first
        assert m.validation_last is not None and m.validation_last < m.test_first
        train_last = int(m.train_last.timestamp() * 1e9)
        assert sessions_between(BARS, train_last, first) >= 1
    # expanding windows: the later fold was trained on more (later) data
    assert refits[0].train_last < refits[1].train_last
    assert refits[0].train_first == refits[1].train_first
    # and behaves differently: same seed and recipe, other data -> other weights
    obs = np.random.default_rng(0).normal(size=(64, ENV.window * 3 + 1)).astype(np.float32)
    a = np.stack([np.asarray(refits[0].act(o)).reshape(-1) for o in obs])
    b = np.stack([np.asarray(refits[1].act(o)).reshape(-1) for o in obs])
    assert not np.allclose(a, b)


def test_retrain_folds_too_little_history_previous_model_trades_the_fold(tmp_path: Path) -> None:
    config = _recipe(SPLIT.model_copy(update={"embargo_sessions": 9}))  # eats the history
    bounds = fold_test_bounds(TEST, ENV.window, 6, 3)
    fold0 = _fold0(bounds)
    models = retrain_folds(
        BARS,
        config,
        bounds,
        fold0=fold0,
        cost_config=CostModelConfig(),
        out_dir=tmp_path,
        run_id="wf",
    )
    assert [m.fold for m in models] == [0, 1, 2]
    assert all(m.reused and m.model_id == "recorded" for m in models)
    assert all("not refit" in m.note and "embargo" in m.note for m in models[1:])
    assert [int(m.test_first.timestamp() * 1e9) for m in models] == [b[0] for b in bounds]
    assert "not refit" in fold_models_markdown([m.record() for m in models])
