"""ProgressCallback: timesteps reported monotonically, reaching the total, throttled by time."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from quant_assets.lib.monitoring.training_progress import TrainingProgress
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig
from quant_assets.lib.training.config import TrainingConfig
from quant_assets.lib.training.progress import ProgressCallback
from quant_assets.lib.training.train import train_policy

torch.set_num_threads(1)
BARS = random_walk_bars(1000, seed=3)


def _config(total: int) -> TrainingConfig:
    return TrainingConfig.model_validate(
        {
            "total_timesteps": total,
            "n_envs": 2,
            "env": TradingEnvConfig(window=8, norm_window=50, max_episode_steps=100),
            "hyperparams": {
                "n_steps": 32,
                "batch_size": 32,
                "n_epochs": 1,
                "policy_kwargs": {"net_arch": [16]},
            },
            "checkpoint_every": 10_000,
        }
    )


def test_progress_callback_every_step_counts_increase_to_the_total(tmp_path: Path) -> None:
    events: list[TrainingProgress] = []
    callback = ProgressCallback(events.append, 256, min_interval_s=0.0)
    train_policy(BARS, _config(256), out_dir=tmp_path, run_id="r", callbacks=[callback])
    counts = [e.timesteps for e in events]
    assert counts[0] == 0 and counts[-1] == 256
    assert all(b > a for a, b in itertools.pairwise(counts)), counts
    assert len(counts) > 10  # one per vectorised step (2 envs: 128 steps), not one per run
    assert {e.total for e in events} == {256}
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(events))


def test_progress_callback_overshooting_rollout_reports_the_total_last(tmp_path: Path) -> None:
    """SB3 finishes its last rollout (64 steps each): 100 requested, 128 trained, 100 reported."""
    events: list[TrainingProgress] = []
    callback = ProgressCallback(events.append, 100, min_interval_s=0.0)
    result = train_policy(BARS, _config(100), out_dir=tmp_path, run_id="r", callbacks=[callback])
    assert result.num_timesteps == 128
    assert events[-1].timesteps == 100 and max(e.timesteps for e in events) == 100


def test_progress_callback_long_interval_reports_start_and_end_only(tmp_path: Path) -> None:
    events: list[TrainingProgress] = []
    callback = ProgressCallback(events.append, 128, min_interval_s=3600.0)
    train_policy(BARS, _config(128), out_dir=tmp_path, run_id="r", callbacks=[callback])
    assert [e.timesteps for e in events] == [0, 128]
