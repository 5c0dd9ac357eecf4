"""A real torch-profiler run over a tiny training on CPU (the CUDA path runs in profile_gpu.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig
from quant_assets.lib.trading.vec_env import TradingVecEnv
from quant_assets.lib.training.config import TrainingConfig
from quant_assets.lib.training.profiling import PHASES, profile_training
from quant_assets.lib.training.train import train_policy

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_profile_training_labels_phases_writes_trace_and_summary(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    step_wait = TradingVecEnv.__dict__["step_wait"]
    config = TrainingConfig(
        total_timesteps=128,
        n_envs=2,
        env=TradingEnvConfig(window=8, norm_window=50, max_episode_steps=50),
        hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1},
    )
    with profile_training(tmp_path / "profile", "cpu") as profile:
        train_policy(random_walk_bars(600, seed=1), config, out_dir=tmp_path / "run", run_id="p")

    summary = profile.summary
    assert summary is not None and summary.device == "cpu"
    assert set(summary.phases_ms) == set(PHASES)
    assert all(summary.phases_ms[p] > 0 for p in PHASES), summary.phases_ms
    assert summary.backward_ms > 0 and summary.h2d_copy_ms == 0.0
    assert summary.top_ops and summary.top_ops[0]["self_ms"] >= summary.top_ops[-1]["self_ms"]
    assert json.loads(profile.summary_path.read_text())["device"] == "cpu"
    assert profile.trace_path.stat().st_size > 0
    assert TradingVecEnv.__dict__["step_wait"] is step_wait  # labels removed afterwards


@pytest.mark.slow
def test_profile_gpu_script_cpu_path_prints_phases_and_top_ops(tmp_path: Path) -> None:
    script = REPO_ROOT / "quant_assets_tests" / "profile_gpu.py"
    skip = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    if not torch.cuda.is_available():
        assert skip.returncode == 0 and skip.stdout.startswith("SKIP: no CUDA")
    run = subprocess.run(
        [
            sys.executable,
            str(script),
            "--allow-cpu",
            "--timesteps",
            "256",
            "--n-envs",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for needle in ("env_step", "train_update", "top ops", "trace:"):
        assert needle in run.stdout
