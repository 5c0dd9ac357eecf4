"""Train an SB3 policy on the train split, checkpointing so a killed run resumes, then score it on
the validation split.

Env: the native :class:`TradingVecEnv` for every algorithm (SB3 drives any ``VecEnv``; SAC/DQN
simply see ``n_envs`` transitions per step), wrapped in ``VecMonitor`` (episode return/length
for SB3's ``rollout/*`` stats) and ``VecNormalize`` (observations and rewards, when
``config.normalize``).

Checkpoints: ``out_dir/checkpoints/step_<num_timesteps>/`` holds ``model.zip``,
``vecnormalize.pkl``, the replay buffer for off-policy algorithms and ``meta.json``. They are
written to a temporary directory and renamed into place, so a run killed mid-save never leaves
a half checkpoint that looks complete. They are taken at the start of a rollout (after the
previous gradient update), once ``checkpoint_every`` timesteps have passed, so on-policy
checkpoints are rounded up to rollout boundaries (``n_steps * n_envs``), and once at the end.
Resuming restores weights, optimiser state, normalisation statistics, replay buffer and
``num_timesteps``; envs restart fresh episodes and the RNGs are reseeded with
``seed + num_timesteps`` (a resumed run is reproducible, not bit-identical to an uninterrupted
one). A checkpoint whose recipe (config without ``total_timesteps``), training data or cost
calibration differ is refused rather than silently mixed.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, VecNormalize

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.evaluation.episodes import EpisodeResult, run_episode
from quant_assets.lib.trading.bars import Bars, calibrate_bars
from quant_assets.lib.trading.env import TradingEnv
from quant_assets.lib.trading.vec_env import TradingVecEnv
from quant_assets.lib.training.config import TrainingConfig, algorithm_class
from quant_assets.lib.warehouse.sb3 import WarehouseOutputFormat

CHECKPOINT_PREFIX = "step_"
#: Episode-summary keys of TradingVecEnv infos that are averaged and sent per rollout.
EPISODE_METRICS: tuple[str, ...] = (
    "total_return",
    "max_drawdown",
    "turnover",
    "n_trades",
    "total_cost",
)


class MetricsSink(Protocol):
    """Where training scalars go (the TimescaleDB/DuckDB metrics writer implements it)."""

    def log(self, run_id: str, name: str, step: int, value: float) -> object: ...


class CheckpointMismatchError(ValueError):
    """The checkpoint in ``out_dir`` was made by a different recipe, data or calibration."""


# --------------------------------------------------------------------------- metrics


class MetricsCallback(BaseCallback):
    """Sends SB3 logger scalars (``rollout/*``, ``train/*``, ``time/*``) and per-rollout means of
    the trading-episode summaries (``episode/*``) to a :class:`MetricsSink`.

    Episode stats are averaged per rollout rather than sent per episode so that one name never
    gets two values at the same step (the warehouse keys rows on run, name, time and step).
    """

    def __init__(self, sink: MetricsSink, run_id: str, *, forward_logger: bool = True) -> None:
        super().__init__(verbose=0)
        self.sink = sink
        self.run_id = run_id
        self.forward_logger = forward_logger
        self._writer = WarehouseOutputFormat(sink, run_id)
        self._episodes: list[dict[str, Any]] = []

    def _init_callback(self) -> None:
        if self.forward_logger and self._writer not in self.model.logger.output_formats:
            self.model.logger.output_formats.append(self._writer)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "equity_curve" in info:
                self._episodes.append(info)
        return True

    def _flush(self) -> None:
        if not self._episodes:
            return
        step = int(self.num_timesteps)
        for key in EPISODE_METRICS:
            value = float(np.mean([float(ep[key]) for ep in self._episodes]))
            if math.isfinite(value):
                self.sink.log(self.run_id, f"episode/{key}", step, value)
        self.sink.log(self.run_id, "episode/count", step, float(len(self._episodes)))
        self._episodes.clear()

    def _on_rollout_end(self) -> None:
        self._flush()

    def _on_training_end(self) -> None:
        self._flush()
        if self._writer in self.model.logger.output_formats:
            self.model.logger.output_formats.remove(self._writer)


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint directory and its metadata."""

    path: Path
    num_timesteps: int
    meta: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.path / "model.zip"

    @property
    def vecnormalize_path(self) -> Path:
        return self.path / "vecnormalize.pkl"

    @property
    def replay_buffer_path(self) -> Path:
        return self.path / "replay_buffer.pkl"


def list_checkpoints(ckpt_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints (renamed into place, with ``meta.json``), oldest first."""
    out: list[Checkpoint] = []
    if not ckpt_dir.is_dir():
        return out
    for p in ckpt_dir.iterdir():
        if not (p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)):
            continue
        meta_file = p / "meta.json"
        if not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text())
        out.append(Checkpoint(p, int(meta["num_timesteps"]), meta))
    return sorted(out, key=lambda c: c.num_timesteps)


def latest_checkpoint(ckpt_dir: Path) -> Checkpoint | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


class AtomicCheckpointCallback(BaseCallback):
    """Checkpoint every ``every`` timesteps (see module docstring), keeping the last ``keep``."""

    def __init__(
        self,
        ckpt_dir: Path,
        every: int,
        meta: dict[str, Any],
        *,
        save_replay_buffer: bool = True,
        keep: int = 2,
    ) -> None:
        super().__init__(verbose=0)
        self.ckpt_dir = ckpt_dir
        self.every = every
        self.meta = meta
        self.save_replay_buffer = save_replay_buffer
        self.keep = keep
        self._next = every
        self.last_saved = -1

    def _init_callback(self) -> None:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self._next = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        if self.num_timesteps >= self._next:
            self.save()
            self._next = (self.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True

    def save(self) -> Checkpoint:
        steps = int(self.model.num_timesteps)
        final = self.ckpt_dir / f"{CHECKPOINT_PREFIX}{steps:012d}"
        tmp = self.ckpt_dir / f".tmp-{steps}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.model.save(tmp / "model.zip")
        vn = self.model.get_vec_normalize_env()
        if vn is not None:
            vn.save(str(tmp / "vecnormalize.pkl"))
        buffer = getattr(self.model, "replay_buffer", None)
        if self.save_replay_buffer and buffer is not None:
            self.model.save_replay_buffer(tmp / "replay_buffer.pkl")  # type: ignore[attr-defined]
        meta = {
            **self.meta,
            "num_timesteps": steps,
            "saved_at": datetime.now(tz=UTC).isoformat(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        self.last_saved = steps
        for old in list_checkpoints(self.ckpt_dir)[: -self.keep]:
            shutil.rmtree(old.path, ignore_errors=True)
        return Checkpoint(final, steps, meta)


# --------------------------------------------------------------------------- training


@dataclass(eq=False)
class TrainingResult:
    """Trained model plus everything the artifact and the warehouse need about the run."""

    model: BaseAlgorithm
    vec_normalize: VecNormalize | None
    config: TrainingConfig
    run_id: str
    num_timesteps: int
    resumed_from: int  # checkpoint num_timesteps the run continued from (0 = fresh)
    validation: EpisodeResult
    metrics: dict[str, float]  # validation figures, "validation/<name>"
    splits: dict[str, dict[str, Any]]  # name -> first_ts, last_ts (UTC), n_bars
    cost_params: CalibratedParams
    device: str
    train_seconds: float
    fps: float  # timesteps trained in this call per second of learn()
    checkpoint_dir: Path

    def act(self, obs: NDArray[np.float32], deterministic: bool = True) -> Any:
        """Action for raw env observations, normalised with the training statistics."""
        x = self.vec_normalize.normalize_obs(obs) if self.vec_normalize is not None else obs
        action, _ = self.model.predict(x, deterministic=deterministic)
        return action


def _bars_fingerprint(bars: Bars) -> dict[str, Any]:
    return {
        "symbol": bars.symbol,
        "n": len(bars),
        "first_ts": int(bars.ts[0]),
        "last_ts": int(bars.ts[-1]),
        "sum_close": f"{float(np.sum(bars.close)):.12g}",
        "bar_seconds": bars.bar_seconds,
    }


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def _default_gamma(config: TrainingConfig) -> float:
    if "gamma" in config.hyperparams:
        return float(config.hyperparams["gamma"])
    param = inspect.signature(algorithm_class(config.algorithm).__init__).parameters["gamma"]
    return float(param.default)


def _check_resumable(ckpt: Checkpoint, meta: dict[str, Any]) -> None:
    for key in ("resume_hash", "train_data", "cost_params_version"):
        if ckpt.meta.get(key) != meta[key]:
            raise CheckpointMismatchError(
                f"checkpoint {ckpt.path} has a different {key} ({ckpt.meta.get(key)!r} vs "
                f"{meta[key]!r}); use another out_dir or resume=False to start over"
            )


def validation_metrics(result: EpisodeResult, prefix: str = "validation/") -> dict[str, float]:
    """Flat ``name -> value`` figures of one episode for metrics.json and the sink."""
    curve = result.equity_curve
    return {
        f"{prefix}{k}": float(v)
        for k, v in (
            ("ep_reward", result.ep_reward),
            ("final_pnl", result.final_pnl),
            ("total_return", curve[-1] / curve[0] - 1.0),
            ("sharpe", result.sharpe),
            ("max_dd", result.max_dd),
            ("turnover", result.turnover),
            ("n_trades", result.n_trades),
            ("cost_total", result.cost_total),
            ("cost_commission", result.cost_commission),
            ("cost_spread", result.cost_spread),
            ("cost_impact", result.cost_impact),
            ("n_steps", result.n_steps),
        )
    }


def train_policy(
    bars: Bars,
    config: TrainingConfig,
    *,
    cost_config: CostModelConfig | None = None,
    cost_params: CalibratedParams | None = None,
    out_dir: Path,
    metrics: MetricsSink | None = None,
    run_id: str,
    resume: bool = True,
    callbacks: Sequence[BaseCallback] = (),
) -> TrainingResult:
    """Train on ``config.split``'s train block, resume from ``out_dir`` when possible, validate.

    ``cost_params`` default to a calibration on the train block (never on validation/test, so
    evaluation costs are out-of-sample too). ``resume=False`` deletes existing checkpoints.
    """
    torch.set_num_threads(config.torch_threads)
    cost_config = cost_config if cost_config is not None else CostModelConfig()
    splits = config.split.split(bars, min_bars=config.env.window + 3)
    train_bars, val_bars = splits["train"], splits["validation"]
    if cost_params is None:
        cost_params = calibrate_bars(train_bars, cost_config)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    meta = {
        "run_id": run_id,
        "algorithm": config.algorithm,
        "config_hash": config.config_hash(),
        "resume_hash": config.resume_hash(),
        "train_data": _bars_fingerprint(train_bars),
        "cost_params_version": cost_params.version,
    }
    latest = latest_checkpoint(ckpt_dir) if resume else None
    if latest is not None:
        _check_resumable(latest, meta)
    elif not resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    start_steps = latest.num_timesteps if latest is not None else 0
    seed = config.seed + start_steps
    set_random_seed(seed, using_cuda=config.device != "cpu" and torch.cuda.is_available())

    base = TradingVecEnv(train_bars, config.n_envs, cost_config, cost_params, config.env, seed=seed)
    env: VecEnv = VecMonitor(base)
    vec_normalize: VecNormalize | None = None
    if config.normalize:
        if latest is not None and latest.vecnormalize_path.is_file():
            vec_normalize = VecNormalize.load(str(latest.vecnormalize_path), env)
            vec_normalize.training = True
        else:
            vec_normalize = VecNormalize(
                env, norm_obs=True, norm_reward=True, gamma=_default_gamma(config)
            )
        env = vec_normalize

    cls = algorithm_class(config.algorithm)
    model: BaseAlgorithm
    if latest is not None:
        model = cls.load(latest.model_path, env=env, device=config.device)
        if latest.replay_buffer_path.is_file():
            model.load_replay_buffer(latest.replay_buffer_path)  # type: ignore[attr-defined]
        model.set_random_seed(seed)
    else:
        model = cls(
            config.policy,
            env,
            seed=config.seed,
            device=config.device,
            verbose=0,
            **config.sb3_kwargs(),
        )
    # A custom logger stops SB3 from creating a temp log folder on every learn().
    model.set_logger(Logger(folder=None, output_formats=[]))

    ckpt_cb = AtomicCheckpointCallback(
        ckpt_dir,
        config.checkpoint_every,
        meta,
        save_replay_buffer=config.checkpoint_replay_buffer,
    )
    cbs: list[BaseCallback] = [ckpt_cb]
    if metrics is not None:
        cbs.append(MetricsCallback(metrics, run_id))
    cbs.extend(callbacks)

    remaining = config.total_timesteps - model.num_timesteps
    t0 = time.perf_counter()
    if remaining > 0:
        model.learn(
            total_timesteps=remaining,
            callback=CallbackList(cbs),
            reset_num_timesteps=False,
            progress_bar=False,
        )
        ckpt_cb.save()
    train_seconds = time.perf_counter() - t0
    trained = model.num_timesteps - start_steps

    validation = _validate(model, vec_normalize, val_bars, config, cost_config, cost_params)
    figures = validation_metrics(validation)
    if metrics is not None:
        for name, value in figures.items():
            if math.isfinite(value):
                metrics.log(run_id, name, int(model.num_timesteps), value)
    env.close()
    return TrainingResult(
        model=model,
        vec_normalize=vec_normalize,
        config=config,
        run_id=run_id,
        num_timesteps=int(model.num_timesteps),
        resumed_from=start_steps,
        validation=validation,
        metrics=figures,
        splits={
            name: {
                "first_ts": _utc(int(b.ts[0])),
                "last_ts": _utc(int(b.ts[-1])),
                "n_bars": len(b),
            }
            for name, b in splits.items()
        },
        cost_params=cost_params,
        device=str(model.device),
        train_seconds=train_seconds,
        fps=trained / train_seconds if trained > 0 and train_seconds > 0 else 0.0,
        checkpoint_dir=ckpt_dir,
    )


def _validate(
    model: BaseAlgorithm,
    vec_normalize: VecNormalize | None,
    bars: Bars,
    config: TrainingConfig,
    cost_config: CostModelConfig,
    cost_params: CalibratedParams,
) -> EpisodeResult:
    """One deterministic full pass over the validation bars with train-window cost inputs."""
    env = TradingEnv(
        bars, cost_config, cost_params, config=config.env.model_copy(update={"eval_mode": True})
    )

    def act(obs: NDArray[np.float32]) -> Any:
        x = vec_normalize.normalize_obs(obs) if vec_normalize is not None else obs
        action, _ = model.predict(x, deterministic=True)
        return action

    return run_episode(
        env,
        act,
        start=None,
        n_steps=None,
        episode_id=0,
        split="validation",
        policy=config.algorithm.lower(),
        cost_model_version=cost_params.version,
    )
