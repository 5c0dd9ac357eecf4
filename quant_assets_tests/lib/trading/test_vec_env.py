"""TradingVecEnv matches TradingEnv step for step, auto-resets correctly, and trains with PPO."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig
from quant_assets.lib.trading.vec_env import TradingVecEnv

BARS = random_walk_bars(1200, seed=2)
OTHER = random_walk_bars(900, seed=3, price0=30.0)
CFG = TradingEnvConfig(window=8, norm_window=50, max_episode_steps=60)


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_vec_env_same_starts_same_actions_match_single_env(action_type: str) -> None:
    cfg = CFG.model_copy(update={"action_type": action_type})
    singles = [TradingEnv(b, config=cfg) for b in (BARS, OTHER, BARS)]
    vec = TradingVecEnv([BARS, OTHER], 3, config=cfg, params=[singles[0].params, singles[1].params])
    starts = [20, 500, 1160]
    vec.set_options([{"start": s} for s in starts])
    vec_obs = vec.reset()
    rng = np.random.default_rng(0)
    if action_type == "discrete":
        actions = rng.integers(0, 3, (90, 3))
    else:
        actions = rng.uniform(-1.3, 1.3, (90, 3, 1)).astype(np.float32)
    for k, env in enumerate(singles):
        obs, _ = env.reset(options={"start": starts[k]})
        np.testing.assert_array_equal(obs, vec_obs[k])
    episode_len = [60, 60, 1200 - 2 - 1160]  # last one hits the end of data (exit in 1199)
    for j in range(90):
        v_obs, v_rew, v_done, v_info = vec.step(actions[j])
        for k, env in enumerate(singles):
            if j >= episode_len[k]:
                continue
            obs, rew, _, truncated, info = env.step(actions[j, k])
            assert v_rew[k] == pytest.approx(rew, rel=1e-5, abs=1e-6)
            assert bool(v_done[k]) == truncated
            if truncated:
                np.testing.assert_allclose(v_info[k]["terminal_observation"], obs, rtol=1e-6)
                assert v_info[k]["TimeLimit.truncated"] is True
                assert v_info[k]["n_trades"] == info["n_trades"]
                assert v_info[k]["costs"] == pytest.approx(info["costs"])
                assert v_info[k]["implementation_shortfall"] == pytest.approx(
                    info["implementation_shortfall"]
                )
                np.testing.assert_allclose(v_info[k]["equity_curve"], info["equity_curve"])
            else:
                np.testing.assert_allclose(v_obs[k], obs, rtol=1e-6)


def test_vec_env_auto_reset_liquidates_and_starts_new_episode_flat() -> None:
    vec = TradingVecEnv(BARS, 4, config=CFG, seed=0)
    vec.reset()
    ones = np.ones((4, 1), dtype=np.float32)
    for _ in range(CFG.max_episode_steps - 1):
        obs, _, dones, _ = vec.step(ones)
        assert not dones.any() and np.all(obs[:, -1] > 0)
    obs, _, dones, infos = vec.step(ones)
    assert dones.all()
    assert np.all(obs[:, -1] == 0.0)  # fresh episodes start flat
    # the episode ended by liquidating at the fill model: flat, with the exit traded and paid
    assert all(info["terminal_observation"][-1] == 0.0 for info in infos)
    assert all(info["n_trades"] >= 2 and info["costs"]["spread"] > 0 for info in infos)
    starts = {info["start_index"] for info in infos}
    assert len(starts) > 1  # different random offsets


def test_vec_env_seed_reproducible() -> None:
    a, b = TradingVecEnv(BARS, 3, config=CFG), TradingVecEnv(BARS, 3, config=CFG)
    a.seed(5)
    b.seed(5)
    np.testing.assert_array_equal(a.reset(), b.reset())


def test_vec_env_ppo_learns_few_hundred_steps() -> None:
    torch.set_num_threads(1)
    vec = TradingVecEnv([BARS, OTHER], 4, config=CFG, seed=0)
    model = PPO("MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    action, _ = model.predict(vec.reset(), deterministic=True)
    assert action.shape == (4, 1)


@pytest.mark.parametrize("overnight", ["flatten", "hold"])
def test_vec_env_matches_single_env_across_a_session_close(overnight: str) -> None:
    """Session-close flattening, financing and the episode-end exit step for step alike."""
    day = 86_400 * 10**9
    idx = np.arange(780)
    ts = 1_704_205_800_000_000_000 + (idx // 390) * day + (idx % 390 + 1) * 60 * 10**9
    bars = dataclasses.replace(random_walk_bars(780, seed=7), ts=ts)
    cfg = CFG.model_copy(update={"overnight": overnight, "max_episode_steps": 40})
    cost = CostModelConfig(financing_rate_annual=0.05, max_participation=0.05)
    single = TradingEnv(bars, cost_config=cost, config=cfg)
    vec = TradingVecEnv(bars, 1, cost_config=cost, params=single.params, config=cfg)
    vec.set_options([{"start": 370}])
    vec.reset()
    single.reset(options={"start": 370})
    actions = np.random.default_rng(1).uniform(-1, 1, (40, 1, 1)).astype(np.float32)
    for j in range(40):
        _, v_rew, v_done, v_info = vec.step(actions[j])
        _, rew, _, truncated, info = single.step(actions[j, 0])
        assert v_rew[0] == pytest.approx(rew, rel=1e-5, abs=1e-6)
    assert truncated and v_done[0]
    assert v_info[0]["costs"] == pytest.approx(info["costs"])
    if overnight == "hold":
        assert info["costs"]["financing"] > 0
    else:  # flattened at the close: nothing held overnight
        assert info["costs"]["financing"] == 0.0
