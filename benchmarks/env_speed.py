"""Env speed: our single env / vectorised env vs gym-anytrading, and SB3 PPO fps vs CartPole.

Run: ``.venv/bin/python benchmarks/env_speed.py`` (synthetic random-walk bars, the full market
model on: next-bar fills at the mid, parent-order propagator impact with temporary impact on the
participation rate, participation cap, commission, session-close flattening and episode-end
liquidation). Timings take the best of ``--repeats`` rounds for every contender alike, the env
contenders interleaved within each round (shared, noisy machines: load changes hit all alike).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from gym_anytrading.envs import StocksEnv
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.trading.bars import Bars, random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig
from quant_assets.lib.trading.vec_env import TradingVecEnv


def best_rate(run: Callable[[], float], repeats: int) -> float:
    """Highest items/s over ``repeats`` runs of ``run`` (which returns its item count)."""
    return best_rates({"run": run}, repeats)["run"]


def best_rates(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Highest items/s of each contender over ``repeats`` rounds, the contenders interleaved
    in every round so that a change of machine load hits them alike."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            items = run()
            best[name] = max(best[name], items / (time.perf_counter() - t0))
    return best


def single_env_run(bars: Bars, steps: int) -> Callable[[], float]:
    env = TradingEnv(bars, cost_config=CostModelConfig(), config=TradingEnvConfig())
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 1)).astype(np.float32)
    env.reset(seed=0)

    def run() -> float:
        for a in actions:
            if env.step(a)[3]:
                env.reset()
        return float(steps)

    return run


def vec_env_run(bars: Bars, n_envs: int, steps: int) -> Callable[[], float]:
    vec = TradingVecEnv(bars, n_envs, cost_config=CostModelConfig(), seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, (n_envs, 1)).astype(np.float32) for _ in range(64)]
    vec.reset()

    def run() -> float:
        for i in range(steps):
            vec.step(actions[i & 63])
        return float(steps * n_envs)

    return run


def anytrading_run(bars: Bars, steps: int) -> Callable[[], float]:
    df = pd.DataFrame({"Close": bars.close, "Open": bars.open, "High": bars.high})
    env = StocksEnv(df=df, window_size=32, frame_bound=(32, len(df)))
    actions = np.random.default_rng(0).integers(0, 2, steps).tolist()
    env.reset(seed=0)

    def run() -> float:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return float(steps)

    return run


def ppo_fps(make: Callable[[], object], timesteps: int, n_steps: int, repeats: int) -> float:
    def run() -> float:
        model = PPO("MlpPolicy", make(), n_steps=n_steps, batch_size=64, seed=0, device="cpu")  # type: ignore[arg-type]
        model.learn(total_timesteps=timesteps)
        return float(model.num_timesteps)

    return best_rate(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--n-envs", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--ppo-envs", type=int, default=8)
    parser.add_argument("--ppo-steps", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bars = random_walk_bars(args.bars, seed=0)

    runs = {
        "anytrading": anytrading_run(bars, args.steps),
        "ours": single_env_run(bars, args.steps),
    }
    for n in args.n_envs:
        runs[f"vec{n}"] = vec_env_run(bars, n, max(200, args.steps // n * 4))
    rates = best_rates(runs, args.repeats)
    ours, theirs = rates["ours"], rates["anytrading"]
    print(f"gym-anytrading StocksEnv      : {theirs:12,.0f} steps/s (no costs model, 2 actions)")
    print(
        f"TradingEnv (full model)       : {ours:12,.0f} steps/s  ratio {ours / theirs:5.2f}x"
        f"  target >= 1.0x  {'OK' if ours >= theirs else 'MISS'}"
    )
    for n in args.n_envs:
        vec = rates[f"vec{n}"]
        print(
            f"TradingVecEnv n_envs={n:<4d}     : {vec:12,.0f} env-steps/s  ratio "
            f"{vec / theirs:5.2f}x  target >= 10x  {'OK' if vec >= 10 * theirs else 'MISS'}"
        )

    n_steps = args.ppo_steps // args.ppo_envs
    cartpole = ppo_fps(
        lambda: make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=args.ppo_envs, seed=0),
        args.ppo_steps,
        n_steps,
        args.repeats,
    )
    print(f"PPO fps CartPole-v1 (DummyVecEnv x{args.ppo_envs}, Discrete(2)): {cartpole:10,.0f}")
    for action_type in ("discrete", "continuous"):
        cfg = TradingEnvConfig(action_type=action_type)
        fps = ppo_fps(
            lambda cfg=cfg: TradingVecEnv(bars, args.ppo_envs, config=cfg, seed=0),  # type: ignore[misc]
            args.ppo_steps,
            n_steps,
            args.repeats,
        )
        ok = "OK" if fps >= 0.8 * cartpole else "MISS"
        print(
            f"PPO fps TradingVecEnv x{args.ppo_envs} ({action_type:10s})   : {fps:10,.0f}  ratio "
            f"{fps / cartpole:5.2f}x  target >= 0.8x  {ok}"
        )


if __name__ == "__main__":
    main()
