"""TrainingConfig validation/hashing and WalkForwardSplit contiguity."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import torch.nn as nn
from pydantic import ValidationError

from quant_assets.lib.trading.bars import Bars, random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig
from quant_assets.lib.training.config import TrainingConfig, WalkForwardSplit

BARS = random_walk_bars(1000, seed=4)
DISCRETE = TradingEnvConfig(action_type="discrete")


def test_training_config_sac_with_discrete_actions_raises() -> None:
    with pytest.raises(ValidationError, match="SAC needs continuous actions"):
        TrainingConfig(algorithm="SAC", env=DISCRETE)


def test_training_config_dqn_with_continuous_actions_raises() -> None:
    with pytest.raises(ValidationError, match="DQN needs discrete actions"):
        TrainingConfig(algorithm="DQN")


def test_training_config_dqn_with_discrete_actions_accepted() -> None:
    cfg = TrainingConfig(algorithm="DQN", env=DISCRETE, hyperparams={"buffer_size": 1000})
    assert cfg.algorithm == "DQN"


def test_training_config_hyperparam_typo_raises_with_suggestion() -> None:
    with pytest.raises(ValidationError, match=r"no hyperparameter 'learning_rat'.*'learning_rate'"):
        TrainingConfig(hyperparams={"learning_rat": 1e-3})


def test_training_config_hyperparam_of_other_algorithm_raises() -> None:
    with pytest.raises(ValidationError, match="PPO has no hyperparameter 'buffer_size'"):
        TrainingConfig(algorithm="PPO", hyperparams={"buffer_size": 10})


def test_training_config_reserved_hyperparam_raises() -> None:
    with pytest.raises(ValidationError, match=r"TrainingConfig\.seed"):
        TrainingConfig(hyperparams={"seed": 3})


def test_training_config_unknown_activation_raises() -> None:
    with pytest.raises(ValidationError, match="activation_fn"):
        TrainingConfig(hyperparams={"policy_kwargs": {"activation_fn": "swish2"}})


def test_training_config_sb3_kwargs_resolves_activation_and_schedule() -> None:
    cfg = TrainingConfig(
        hyperparams={"learning_rate": "lin_1e-3", "policy_kwargs": {"activation_fn": "relu"}}
    )
    kwargs = cfg.sb3_kwargs()
    assert kwargs["policy_kwargs"]["activation_fn"] is nn.ReLU
    assert kwargs["learning_rate"](0.5) == pytest.approx(5e-4)
    assert cfg.hyperparams["policy_kwargs"]["activation_fn"] == "relu"  # config untouched


def test_training_config_hash_equal_configs_and_json_roundtrip_same_hash() -> None:
    a = TrainingConfig(hyperparams={"n_steps": 64, "gamma": 0.9}, seed=3)
    b = TrainingConfig(hyperparams={"gamma": 0.9, "n_steps": 64}, seed=3)
    c = TrainingConfig.model_validate_json(a.model_dump_json())
    assert a.config_hash() == b.config_hash() == c.config_hash()
    assert len(a.config_hash()) == 64


def test_training_config_hash_any_change_new_hash() -> None:
    base = TrainingConfig()
    changed = [
        TrainingConfig(seed=1),
        TrainingConfig(hyperparams={"n_steps": 64}),
        TrainingConfig(env=TradingEnvConfig(window=16)),
        TrainingConfig(split=WalkForwardSplit(fractions=(0.5, 0.25, 0.25))),
        TrainingConfig(total_timesteps=7),
    ]
    hashes = {base.config_hash(), *(c.config_hash() for c in changed)}
    assert len(hashes) == 1 + len(changed)


def test_training_config_resume_hash_ignores_total_timesteps_only() -> None:
    base = TrainingConfig(total_timesteps=100)
    assert base.resume_hash() == TrainingConfig(total_timesteps=900).resume_hash()
    assert base.resume_hash() != TrainingConfig(total_timesteps=100, seed=2).resume_hash()


def test_training_config_bad_bar_interval_raises() -> None:
    with pytest.raises(ValidationError):
        TrainingConfig(bar_interval="soon")


def _assert_contiguous_in_order(parts: dict[str, Bars]) -> None:
    names = list(parts)
    assert names == ["train", "validation", "test"]
    ts = [parts[n].ts for n in names]
    joined = np.concatenate(ts)
    np.testing.assert_array_equal(joined, BARS.ts[: joined.size])  # contiguous, nothing reused
    for earlier, later in itertools.pairwise(ts):
        assert earlier[-1] < later[0]  # time order, no overlap
    assert len(set(joined.tolist())) == joined.size


def test_walk_forward_fractions_contiguous_non_overlapping_ordered() -> None:
    parts = WalkForwardSplit(fractions=(0.6, 0.2, 0.2)).split(BARS)
    _assert_contiguous_in_order(parts)
    assert [len(p) for p in parts.values()] == [600, 200, 200]


def test_walk_forward_fractions_below_one_leave_tail_unused() -> None:
    parts = WalkForwardSplit(fractions=(0.5, 0.1, 0.1)).split(BARS)
    _assert_contiguous_in_order(parts)
    assert sum(len(p) for p in parts.values()) == 700


def test_walk_forward_boundaries_cut_at_utc_times_in_any_zone() -> None:
    t = [datetime.fromtimestamp(int(x) / 1e9, tz=UTC) for x in BARS.ts]
    ny = timezone(timedelta(hours=-5))
    split = WalkForwardSplit(boundaries=(t[300].astimezone(ny), t[700]))
    assert split.boundaries is not None and split.boundaries[0].tzinfo == UTC
    assert split.fractions is None
    parts = split.split(BARS)
    _assert_contiguous_in_order(parts)
    assert [len(p) for p in parts.values()] == [300, 400, 300]  # bar at the boundary -> next


def test_walk_forward_test_end_bounds_test_split() -> None:
    t = [datetime.fromtimestamp(int(x) / 1e9, tz=UTC) for x in BARS.ts]
    parts = WalkForwardSplit(boundaries=(t[300], t[700]), test_end=t[800]).split(BARS)
    assert [len(p) for p in parts.values()] == [300, 400, 100]


def test_walk_forward_naive_boundary_raises() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        WalkForwardSplit(boundaries=(datetime(2024, 1, 2), datetime(2024, 1, 3)))  # noqa: DTZ001


def test_walk_forward_non_increasing_boundaries_raises() -> None:
    a = datetime(2024, 1, 3, tzinfo=UTC)
    with pytest.raises(ValidationError, match="strictly increasing"):
        WalkForwardSplit(boundaries=(a, a))


def test_walk_forward_fractions_and_boundaries_both_raises() -> None:
    a = datetime(2024, 1, 3, tzinfo=UTC)
    with pytest.raises(ValidationError, match="not both"):
        WalkForwardSplit(fractions=(0.5, 0.2, 0.2), boundaries=(a, a + timedelta(days=1)))


def test_walk_forward_fractions_over_one_raises() -> None:
    with pytest.raises(ValidationError, match="sum to <= 1"):
        WalkForwardSplit(fractions=(0.7, 0.2, 0.2))


def test_walk_forward_split_shorter_than_min_bars_raises() -> None:
    with pytest.raises(ValueError, match="'test' has 10 bars"):
        WalkForwardSplit(fractions=(0.9, 0.09, 0.01)).split(BARS, min_bars=34)


def _daily_bars(days: int, per_day: int = 10) -> Bars:
    """``per_day`` one-minute bars at 14:30 UTC on each of ``days`` consecutive UTC days."""
    base = random_walk_bars(days * per_day, seed=3)
    day_ns = 86_400 * 10**9
    ts = np.concatenate(
        [base.ts[:per_day] + d * day_ns for d in range(days)]
    )  # same minutes each day
    return Bars(**{**base.__dict__, "ts": ts})


def test_walk_forward_embargo_leaves_whole_sessions_between_train_and_test() -> None:
    bars = _daily_bars(6)  # 10 bars a day; test = last 20 % = days 4.8-5
    plain = WalkForwardSplit(fractions=(0.6, 0.2, 0.2)).bounds(bars)
    embargoed = WalkForwardSplit(fractions=(0.6, 0.2, 0.2), embargo_sessions=1).bounds(bars)
    assert plain["train"] == (0, 36) and plain["test"] == (48, 60)
    assert embargoed["test"] == plain["test"]  # the evidence keeps its size
    assert embargoed["train"] == (0, 30)  # days 0-2: day 3 is the embargo before day 4
    assert embargoed["validation"] == (30, 48)
    days = bars.ts // (86_400 * 10**9)
    assert days[embargoed["test"][0]] - days[embargoed["train"][1] - 1] == 2


def test_walk_forward_embargo_without_room_raises_with_hint() -> None:
    split = WalkForwardSplit(fractions=(0.6, 0.2, 0.2), embargo_sessions=5)
    with pytest.raises(ValueError, match="embargo of 5 session"):
        split.split(_daily_bars(6))
