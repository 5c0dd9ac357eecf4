"""GPU smoke test: a few PPO steps on ``cuda`` with the project's trading env.

Run inside the GPU image (docker/Dockerfile) on a GPU host, e.g.
``docker run --gpus all IMAGE pytest -m gpu quant_assets_tests/smoke_gpu.py``. Skips (with the
reason) where torch sees no CUDA device, so it is harmless in CPU-only CI.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason=f"no CUDA device visible to torch {torch.__version__} "
        f"(built for CUDA {torch.version.cuda or 'none'})",
    ),
    # SB3 advises CPU for MLP policies; this test is about the CUDA path working, not speed.
    pytest.mark.filterwarnings("ignore:You are trying to run PPO on the GPU:UserWarning"),
]


def _env() -> Any:
    """The project's env on synthetic bars; CartPole if the trading package does not import."""
    try:
        from quant_assets.lib.trading import TradingEnv, TradingEnvConfig, random_walk_bars
    except ImportError:  # a slim image without the project's optional deps
        import gymnasium as gym

        return gym.make("CartPole-v1")
    config = TradingEnvConfig(window=8, norm_window=32, max_episode_steps=128)
    return TradingEnv(random_walk_bars(1_000, seed=7), config=config)


def test_ppo_cuda_few_steps_trains_on_gpu() -> None:
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model = PPO(
        "MlpPolicy",
        _env(),
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={"net_arch": [16, 16]},
        device="cuda",
        seed=0,
        verbose=0,
    )
    model.learn(total_timesteps=128)

    assert model.device.type == "cuda"
    param = next(model.policy.parameters())
    assert param.is_cuda, f"policy parameter on {param.device}"
    assert model.num_timesteps >= 128
    torch.cuda.synchronize()
