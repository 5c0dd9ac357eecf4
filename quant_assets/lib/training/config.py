"""Training configuration (rl-zoo style): one frozen, hashable pydantic model per training run.

Everything that changes what a policy learns lives here, so ``config_hash()`` identifies a run's
recipe and a stored ``config.json`` rebuilds it. Hyperparameters go straight to the SB3
constructor, but are checked against its signature first: a typo must fail at config time, not
train silently on defaults for hours.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import itertools
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quant_assets.lib.costs.config import canonical_json
from quant_assets.lib.trading.bars import Bars, interval_ns
from quant_assets.lib.trading.env import TradingEnvConfig

Algorithm = Literal["PPO", "A2C", "SAC", "DQN"]
SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_DAY = 86_400 * 1_000_000_000

#: Action space each algorithm can drive (SAC: continuous only, DQN: discrete only).
ALGORITHM_ACTIONS: dict[str, frozenset[str]] = {
    "PPO": frozenset({"continuous", "discrete"}),
    "A2C": frozenset({"continuous", "discrete"}),
    "SAC": frozenset({"continuous"}),
    "DQN": frozenset({"discrete"}),
}
#: Constructor arguments the config sets through its own fields (one source of truth each).
RESERVED_HYPERPARAMS: dict[str, str] = {
    "policy": "TrainingConfig.policy",
    "env": "the training split (built by train_policy)",
    "seed": "TrainingConfig.seed",
    "device": "TrainingConfig.device",
    "_init_setup_model": "train_policy",
    "tensorboard_log": "the metrics sink (MetricsSink)",
}
#: ``policy_kwargs.activation_fn`` is given by name so the config stays JSON (and hashable).
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")


@cache
def algorithm_class(name: str) -> type[Any]:
    """SB3 class of an algorithm name (imported lazily: SB3/torch import takes seconds)."""
    import stable_baselines3 as sb3

    return getattr(sb3, name)  # type: ignore[no-any-return]


@cache
def _constructor_params(name: str) -> frozenset[str]:
    sig = inspect.signature(algorithm_class(name).__init__)
    return frozenset(p for p in sig.parameters if p != "self")


class SplitTooSmallError(ValueError):
    """A split of the bars holds fewer bars than training or evaluation needs."""


class WalkForwardSplit(BaseModel):
    """Train/validation/test as contiguous, non-overlapping, time-ordered blocks of bars.

    Either ``fractions`` of the bars (in that order) or explicit UTC ``boundaries``
    ``(train_end, validation_end)``: a bar belongs to the first split whose end is strictly after
    its (end-stamped) ``ts``; everything from ``validation_end`` on is test (up to ``test_end``
    when given). Explicit times let a walk-forward schedule move the boundaries as data arrives.

    Embargo: with ``embargo_sessions = k`` the train block is cut back so that its last bar lies
    at least ``k + 1`` sessions (UTC days with bars) before the session of the first test bar:
    ``k`` whole sessions separate training data from test data, so serially correlated bars and
    overnight positions cannot leak (López de Prado 2018, ch. 7). The test block (the evidence)
    keeps its size; the bars cut from train go to validation. ``test_folds`` cuts the test block
    into that many consecutive out-of-sample folds for the evaluation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fractions: tuple[float, float, float] | None = (0.6, 0.2, 0.2)
    boundaries: tuple[datetime, datetime] | None = None
    test_end: datetime | None = None
    embargo_sessions: int = Field(default=0, ge=0)
    test_folds: int = Field(default=1, ge=1)

    @field_validator("boundaries", "test_end", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        def conv(d: datetime) -> datetime:
            if d.tzinfo is None or d.utcoffset() is None:
                raise ValueError(f"split boundaries must be timezone-aware, got naive {d!r}")
            return d.astimezone(UTC)

        if value is None:
            return None
        if isinstance(value, datetime):
            return conv(value)
        return tuple(conv(d) for d in value)

    @model_validator(mode="after")
    def _one_spec(self) -> WalkForwardSplit:
        if self.boundaries is not None:
            if self.fractions is not None and "fractions" in self.model_fields_set:
                raise ValueError("give either fractions or boundaries, not both")
            object.__setattr__(self, "fractions", None)
            ends = [*self.boundaries, *([self.test_end] if self.test_end else [])]
            if any(b <= a for a, b in itertools.pairwise(ends)):
                raise ValueError(f"split boundaries must be strictly increasing, got {ends}")
        elif self.fractions is not None:
            if self.test_end is not None:
                raise ValueError("test_end only applies to explicit boundaries")
            if any(not f > 0 for f in self.fractions) or sum(self.fractions) > 1 + 1e-9:
                raise ValueError(f"fractions must be > 0 and sum to <= 1, got {self.fractions}")
        else:
            raise ValueError("give fractions or boundaries")
        return self

    def bounds(self, bars: Bars) -> dict[str, tuple[int, int]]:
        """Index ranges ``[start, stop)`` of each split in ``bars``."""
        n = len(bars)
        if self.fractions is not None:
            cuts = np.floor(np.cumsum(self.fractions) * n + 1e-9).astype(int).tolist()
            edges = [0, *cuts]
        else:
            assert self.boundaries is not None
            ends = [*self.boundaries, *([self.test_end] if self.test_end else [])]
            ns = [(d - _EPOCH) // timedelta(microseconds=1) * 1000 for d in ends]
            cut = np.searchsorted(bars.ts, np.asarray(ns, dtype=np.int64), side="left").tolist()
            edges = [0, *cut] if self.test_end else [0, *cut, n]
        if self.embargo_sessions and edges[2] < n:
            session = np.asarray(bars.ts, dtype=np.int64) // _NS_PER_DAY
            rank = np.unique(session, return_inverse=True)[1]
            last_allowed = int(rank[edges[2]]) - self.embargo_sessions - 1
            edges[1] = min(edges[1], int(np.searchsorted(rank, last_allowed, side="right")))
        return {name: (edges[i], edges[i + 1]) for i, name in enumerate(SPLIT_NAMES)}

    def split(self, bars: Bars, *, min_bars: int = 1) -> dict[str, Bars]:
        """``{"train", "validation", "test"}`` -> Bars; raises if a split has < ``min_bars``."""
        out: dict[str, Bars] = {}
        for name, (lo, hi) in self.bounds(bars).items():
            if hi - lo < min_bars:
                hint = (
                    f" (an embargo of {self.embargo_sessions} session(s) before the test block"
                    " leaves too little training data: more days, or a larger train fraction)"
                    if name == "train" and self.embargo_sessions
                    else ""
                )
                raise SplitTooSmallError(
                    f"split {name!r} has {hi - lo} bars, need >= {min_bars}{hint}"
                )
            out[name] = bars.slice(lo, hi)
        return out


class TrainingConfig(BaseModel):
    """Recipe of one training run; see module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Algorithm = "PPO"
    policy: str = "MlpPolicy"
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    total_timesteps: int = Field(default=100_000, gt=0)
    n_envs: int = Field(default=8, ge=1)
    seed: int = Field(default=0, ge=0)
    # MLP policies are faster on CPU than on a GPU (SB3 warns for PPO on CUDA), hence "cpu".
    device: Literal["auto", "cpu", "cuda"] = "cpu"
    torch_threads: int = Field(default=1, ge=1)
    normalize: bool = True  # VecNormalize observations and rewards
    env: TradingEnvConfig = Field(default_factory=TradingEnvConfig)
    bar_interval: str = "1min"
    split: WalkForwardSplit = Field(default_factory=WalkForwardSplit)
    checkpoint_every: int = Field(default=50_000, ge=1)  # timesteps between checkpoints
    checkpoint_replay_buffer: bool = True  # off-policy: resume with the buffer (can be large)

    @field_validator("bar_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        interval_ns(value)
        return value

    @model_validator(mode="after")
    def _check_algorithm(self) -> TrainingConfig:
        allowed = ALGORITHM_ACTIONS[self.algorithm]
        if self.env.action_type not in allowed:
            raise ValueError(
                f"{self.algorithm} needs {' or '.join(sorted(allowed))} actions but "
                f"env.action_type={self.env.action_type!r}; set env.action_type accordingly"
            )
        params = _constructor_params(self.algorithm)
        for key in self.hyperparams:
            if key in RESERVED_HYPERPARAMS:
                raise ValueError(
                    f"hyperparams[{key!r}] is set by {RESERVED_HYPERPARAMS[key]}, not hyperparams"
                )
            if key not in params:
                close = difflib.get_close_matches(key, sorted(params), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{self.algorithm} has no hyperparameter {key!r}{hint}")
        try:
            json.dumps(self.hyperparams, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"hyperparams must be plain JSON (hashable recipe): {exc}") from exc
        pk = self.hyperparams.get("policy_kwargs") or {}
        act = pk.get("activation_fn") if isinstance(pk, dict) else None
        if act is not None and act not in ACTIVATIONS:
            raise ValueError(f"policy_kwargs.activation_fn must be one of {ACTIVATIONS}, got {act}")
        lr = self.hyperparams.get("learning_rate")
        if isinstance(lr, str):
            _parse_schedule(lr)
        return self

    def config_hash(self) -> str:
        """sha256 of the canonical JSON: same recipe -> same hash, in any process."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()

    def resume_hash(self) -> str:
        """Hash of everything but the run length: a checkpoint may be resumed to a larger total."""
        data = self.model_dump(mode="json", exclude={"total_timesteps", "checkpoint_every"})
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()

    def sb3_kwargs(self) -> dict[str, Any]:
        """Constructor kwargs with JSON spellings resolved (activation names, "lin_<lr>")."""
        import torch.nn as nn

        kwargs = json.loads(json.dumps(self.hyperparams))  # deep copy
        pk = kwargs.get("policy_kwargs")
        if isinstance(pk, dict) and isinstance(pk.get("activation_fn"), str):
            names = {
                "tanh": nn.Tanh,
                "relu": nn.ReLU,
                "elu": nn.ELU,
                "leaky_relu": nn.LeakyReLU,
                "gelu": nn.GELU,
                "silu": nn.SiLU,
            }
            pk["activation_fn"] = names[pk["activation_fn"]]
        lr = kwargs.get("learning_rate")
        if isinstance(lr, str):
            kwargs["learning_rate"] = _parse_schedule(lr)
        return kwargs


class _LinearSchedule:
    """``progress_remaining`` (1 -> 0) times the initial value; picklable for SB3 saves."""

    def __init__(self, initial: float) -> None:
        self.initial = initial

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial


def _parse_schedule(spec: str) -> _LinearSchedule:
    """rl-zoo ``"lin_3e-4"``: learning rate decaying linearly to 0."""
    if not spec.startswith("lin_"):
        raise ValueError(f"learning_rate schedule must look like 'lin_3e-4', got {spec!r}")
    try:
        value = float(spec[4:])
    except ValueError as exc:
        raise ValueError(f"learning_rate schedule must look like 'lin_3e-4', got {spec!r}") from exc
    if not value > 0:
        raise ValueError(f"learning rate must be > 0, got {value}")
    return _LinearSchedule(value)
