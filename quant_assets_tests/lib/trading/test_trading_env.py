"""TradingEnv: API conformance, no look-ahead, costs charged exactly as the cost engine says."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from quant_assets.lib.costs import CostModelConfig, compute_costs
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

BARS = random_walk_bars(1500, seed=1)
SMALL = TradingEnvConfig(window=8, norm_window=50, max_episode_steps=100)


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_env_checkers_pass(action_type: str) -> None:
    cfg = SMALL.model_copy(update={"action_type": action_type})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no spec" render-mode notice
        gym_check_env(TradingEnv(BARS, config=cfg), skip_render_check=True)
    sb3_check_env(TradingEnv(BARS, config=cfg), warn=False)


def test_env_observation_at_t_ignores_data_after_t() -> None:
    t = 700
    arrays = {
        f.name: getattr(BARS, f.name).copy()
        for f in dataclasses.fields(BARS)
        if isinstance(getattr(BARS, f.name), np.ndarray)
    }
    rng = np.random.default_rng(0)
    for name in ("open", "high", "low", "close", "vwap", "spread", "volume"):
        arrays[name][t + 1 :] *= rng.uniform(0.5, 2.0, len(BARS) - t - 1)
    perturbed = dataclasses.replace(BARS, **arrays)
    a = TradingEnv(BARS, config=SMALL)
    b = TradingEnv(perturbed, config=SMALL, params=a.params)
    oa, _ = a.reset(options={"start": t - 20})
    ob, _ = b.reset(options={"start": t - 20})
    assert np.array_equal(oa, ob)
    actions = rng.uniform(-1, 1, (20, 1)).astype(np.float32)
    for act in actions:  # same actions up to t: every observation up to t identical
        oa = a.step(act)[0]
        ob = b.step(act)[0]
        assert np.array_equal(oa, ob)
    assert a._t == t  # the last compared observation is the one at bar t
    assert not np.array_equal(a.step(actions[0])[0], b.step(actions[0])[0])  # test can fail


def test_env_step_reward_is_pnl_net_of_engine_costs() -> None:
    cost_cfg = CostModelConfig(max_participation=None, impact_model="almgren_chriss")
    env = TradingEnv(BARS, cost_config=cost_cfg, config=SMALL)
    start = 300
    env.reset(options={"start": start})
    shares = 0.5 * env._max_shares
    _, reward, _, _, info = env.step(np.array([0.5], dtype=np.float32))
    p = env.params
    expected_cost = compute_costs(
        cost_cfg,
        [shares],
        [BARS.close[start]],
        spread=[BARS.spread[start]],
        daily_vol=p.daily_vol,
        adv=p.adv,
        bar_seconds=BARS.bar_seconds,
    )
    pnl = shares * (BARS.close[start + 1] - BARS.close[start])
    assert info["cost"] == pytest.approx(expected_cost.total[0])
    assert reward == pytest.approx((pnl - expected_cost.total[0]) / 1e6 * 1e4)
    assert env.costs_by_component()["impact_temporary"] == pytest.approx(
        expected_cost.impact_temporary[0]
    )


def test_env_participation_cap_clips_position() -> None:
    env = TradingEnv(BARS, cost_config=CostModelConfig(max_participation=0.01), config=SMALL)
    env.reset(options={"start": 200})
    obs, _, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert info["filled_shares"] == pytest.approx(0.01 * BARS.volume[201])
    assert obs[-1] == pytest.approx(info["filled_shares"] / env._max_shares, rel=1e-6)


def test_env_eval_mode_full_pass_reports_episode_stats() -> None:
    cfg = SMALL.model_copy(update={"eval_mode": True})
    env = TradingEnv(BARS, config=cfg)
    env.reset(seed=123)
    steps, truncated, info = 0, False, {}
    while not truncated:
        _, _, terminated, truncated, info = env.step(np.array([np.sin(steps / 10)], np.float32))
        steps += 1
        assert not terminated
    assert steps == len(BARS) - 1 - cfg.window
    assert info["equity_curve"].shape == (steps + 1,)
    assert 0.0 <= info["max_drawdown"] < 1.0 and info["n_trades"] > 0 and info["turnover"] > 0
    assert (
        info["total_cost"] == pytest.approx(sum(info["costs"].values())) and info["total_cost"] > 0
    )


def test_env_same_seed_same_start_different_seed_differs() -> None:
    env = TradingEnv(BARS, config=SMALL)
    starts = {env.reset(seed=s)[1]["start_index"] for s in (1, 1)}
    assert len(starts) == 1
    assert len({env.reset(seed=s)[1]["start_index"] for s in range(10)}) > 1


def test_env_discrete_action_maps_to_levels() -> None:
    cfg = SMALL.model_copy(update={"action_type": "discrete"})
    env = TradingEnv(BARS, cost_config=CostModelConfig(max_participation=None), config=cfg)
    env.reset(options={"start": 100})
    obs = env.step(0)[0]
    assert obs[-1] == pytest.approx(-1.0)


def test_env_too_few_bars_raises() -> None:
    with pytest.raises(ValueError, match="need at least"):
        TradingEnv(random_walk_bars(5), config=SMALL)
