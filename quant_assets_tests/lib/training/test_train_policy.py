"""train_policy: resumable checkpoints, metrics to a sink, seeding, off-policy algorithms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig
from quant_assets.lib.training.config import TrainingConfig
from quant_assets.lib.training.train import (
    CheckpointMismatchError,
    list_checkpoints,
    train_policy,
)
from quant_assets.lib.warehouse.sb3 import WarehouseOutputFormat

torch.set_num_threads(1)
BARS = random_walk_bars(2000, seed=7)
ENV = TradingEnvConfig(window=8, norm_window=50, max_episode_steps=100)
PPO_PARAMS = {
    "n_steps": 64,
    "batch_size": 64,
    "n_epochs": 2,
    "policy_kwargs": {"net_arch": [32, 32]},
}


def _config(**kw: object) -> TrainingConfig:
    base: dict[str, object] = {
        "total_timesteps": 512,
        "n_envs": 4,
        "env": ENV,
        "hyperparams": PPO_PARAMS,
        "checkpoint_every": 256,
    }
    base.update(kw)
    return TrainingConfig.model_validate(base)


class ListSink:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, float]] = []

    def log(self, run_id: str, name: str, step: int, value: float) -> None:
        self.rows.append((run_id, name, step, value))


class StartRecorder(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.start_timesteps: int | None = None

    def _on_training_start(self) -> None:
        self.start_timesteps = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True


def test_train_policy_larger_total_resumes_from_checkpoint_timesteps(tmp_path: Path) -> None:
    first = train_policy(BARS, _config(), out_dir=tmp_path, run_id="r")
    assert first.num_timesteps == 512 and first.resumed_from == 0
    assert [c.num_timesteps for c in list_checkpoints(tmp_path / "checkpoints")][-1] == 512

    rec = StartRecorder()
    second = train_policy(
        BARS, _config(total_timesteps=1024), out_dir=tmp_path, run_id="r", callbacks=[rec]
    )
    assert second.resumed_from == 512
    assert rec.start_timesteps == 512  # learning continued, not restarted from 0
    assert second.num_timesteps == 1024
    assert list_checkpoints(tmp_path / "checkpoints")[-1].num_timesteps == 1024


def test_train_policy_resume_false_starts_from_zero(tmp_path: Path) -> None:
    train_policy(BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r")
    rec = StartRecorder()
    again = train_policy(
        BARS,
        _config(total_timesteps=256),
        out_dir=tmp_path,
        run_id="r",
        resume=False,
        callbacks=[rec],
    )
    assert again.resumed_from == 0 and rec.start_timesteps == 0


def test_train_policy_finished_checkpoint_same_total_trains_nothing(tmp_path: Path) -> None:
    train_policy(BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r")
    rec = StartRecorder()
    again = train_policy(
        BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r", callbacks=[rec]
    )
    assert again.resumed_from == 256 and rec.start_timesteps is None and again.fps == 0.0


def test_train_policy_changed_recipe_refuses_checkpoint(tmp_path: Path) -> None:
    train_policy(BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r")
    with pytest.raises(CheckpointMismatchError, match="resume_hash"):
        train_policy(BARS, _config(total_timesteps=512, seed=5), out_dir=tmp_path, run_id="r")


def test_train_policy_other_data_refuses_checkpoint(tmp_path: Path) -> None:
    train_policy(BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r")
    other = random_walk_bars(2000, seed=8)
    with pytest.raises(CheckpointMismatchError, match="train_data"):
        train_policy(other, _config(total_timesteps=512), out_dir=tmp_path, run_id="r")


def test_train_policy_same_seed_same_validation_metrics(tmp_path: Path) -> None:
    cfg = _config(total_timesteps=256)
    a = train_policy(BARS, cfg, out_dir=tmp_path / "a", run_id="a")
    b = train_policy(BARS, cfg, out_dir=tmp_path / "b", run_id="b")
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(a.validation.equity_curve, b.validation.equity_curve)


def test_train_policy_list_sink_receives_logger_episode_and_validation_metrics(
    tmp_path: Path,
) -> None:
    sink = ListSink()
    result = train_policy(BARS, _config(), out_dir=tmp_path, run_id="run-7", metrics=sink)
    names = {name for _, name, _, _ in sink.rows}
    assert {"rollout/ep_rew_mean", "train/value_loss", "time/fps"} <= names  # SB3 logger
    assert {"episode/total_return", "episode/total_cost", "episode/count"} <= names  # env
    assert {"validation/final_pnl", "validation/sharpe"} <= names
    assert {run for run, _, _, _ in sink.rows} == {"run-7"}
    assert all(isinstance(s, int) and 0 < s <= 512 for _, _, s, _ in sink.rows)
    assert all(math.isfinite(v) for _, _, _, v in sink.rows)
    # one value per (name, step): the warehouse key would drop duplicates silently
    keys = [(n, s) for _, n, s, _ in sink.rows]
    assert len(keys) == len(set(keys))
    val = {n: v for _, n, _, v in sink.rows if n.startswith("validation/")}
    assert val == result.metrics


def test_sink_output_format_non_numeric_and_non_finite_dropped() -> None:
    sink = ListSink()
    WarehouseOutputFormat(sink, "r").write(
        {
            "a/x": 1,
            "a/y": np.float32(2.5),
            "a/nan": float("nan"),
            "a/s": "text",
            "a/b": True,
            "a/t": torch.tensor(3.0),
        },
        {},
        step=9,
    )
    assert sorted(sink.rows) == [
        ("r", "a/b", 9, 1.0),
        ("r", "a/t", 9, 3.0),
        ("r", "a/x", 9, 1.0),
        ("r", "a/y", 9, 2.5),
    ]


def test_train_policy_validation_covers_full_validation_split(tmp_path: Path) -> None:
    result = train_policy(BARS, _config(total_timesteps=256), out_dir=tmp_path, run_id="r")
    n_val = result.splits["validation"]["n_bars"]
    assert (
        result.validation.n_steps == n_val - 2 - ENV.window
    )  # full pass; the exit fills in the last bar
    assert result.validation.split == "validation"
    assert result.splits["train"]["last_ts"] < result.splits["validation"]["first_ts"]
    assert result.fps > 0


@pytest.mark.parametrize(
    ("algorithm", "action_type", "params"),
    [
        (
            "SAC",
            "continuous",
            {"buffer_size": 2000, "batch_size": 32, "learning_starts": 64, "train_freq": 4},
        ),
        (
            "DQN",
            "discrete",
            {"buffer_size": 2000, "batch_size": 32, "learning_starts": 64, "train_freq": 4},
        ),
    ],
)
def test_train_policy_off_policy_checkpoint_holds_replay_buffer_and_resumes(
    tmp_path: Path, algorithm: str, action_type: str, params: dict[str, object]
) -> None:
    env = ENV.model_copy(update={"action_type": action_type})
    hp = {**params, "policy_kwargs": {"net_arch": [32, 32]}}
    cfg = _config(algorithm=algorithm, env=env, hyperparams=hp, total_timesteps=256, n_envs=2)
    train_policy(BARS, cfg, out_dir=tmp_path, run_id="r")
    ckpt = list_checkpoints(tmp_path / "checkpoints")[-1]
    assert ckpt.replay_buffer_path.is_file() and ckpt.num_timesteps == 256
    resumed = train_policy(
        BARS, cfg.model_copy(update={"total_timesteps": 384}), out_dir=tmp_path, run_id="r"
    )
    assert resumed.resumed_from == 256 and resumed.num_timesteps == 384
    assert resumed.model.replay_buffer.size() * 2 == 384  # type: ignore[attr-defined]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_train_policy_cuda_artifact_loads_on_cpu_same_policy(tmp_path: Path) -> None:
    from quant_assets.lib.training.artifact import load_policy, save_training_artifact

    result = train_policy(
        BARS, _config(total_timesteps=256, device="cuda"), out_dir=tmp_path, run_id="r"
    )
    assert result.device.startswith("cuda")
    info = save_training_artifact(result, tmp_path / "p.zip", partitions=[])
    loaded = load_policy(info.path, device="cpu")  # verify=True: same content hash on CPU
    assert str(loaded.model.device) == "cpu" and loaded.policy_id == info.policy_id
    obs = np.random.default_rng(0).normal(0, 1, (256, ENV.window * 3 + 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(obs), result.act(obs), atol=1e-5)
