"""A torch-profiler profile of one training: where the time goes.

Labels the phases that matter for RL on a GPU with ``record_function`` — environment stepping
(``env_step``, our vectorised env), the rollout's policy forward (``policy_forward``), the gradient
update (``train_update``: forward, backward and optimiser of SB3's ``train``) — and reads the
rest from the profiler: autograd backward ops and host→device copies (``Memcpy HtoD`` device
time on CUDA; none on CPU). The labels wrap the methods for the duration of the profile only.

Output, stored with the run: ``trace.json`` (chrome://tracing / Perfetto) and ``summary.json``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("env_step", "policy_forward", "train_update")
TRACE_FILE = "trace.json"
SUMMARY_FILE = "summary.json"


@dataclass
class ProfileSummary:
    device: str
    wall_s: float = 0.0
    phases_ms: dict[str, float] = field(default_factory=dict)  # CPU wall time inside each label
    backward_ms: float = 0.0  # autograd backward ops (self time, CPU side)
    h2d_copy_ms: float = 0.0  # Memcpy HtoD device time (CUDA; 0 on CPU: nothing to copy)
    device_busy_ms: float = 0.0  # self device time of every kernel (CUDA only)
    top_ops: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def lines(self) -> list[str]:
        out = [f"device {self.device}, wall {self.wall_s:.2f} s"]
        out += [f"  {name:<16} {ms:10.1f} ms" for name, ms in self.phases_ms.items()]
        out += [f"  {'backward':<16} {self.backward_ms:10.1f} ms"]
        out += [f"  {'h2d copies':<16} {self.h2d_copy_ms:10.1f} ms"]
        if self.device_busy_ms:
            out += [f"  {'device kernels':<16} {self.device_busy_ms:10.1f} ms"]
        out.append("top ops (self time):")
        out += [
            f"  {o['name'][:60]:<60} {o['self_ms']:9.2f} ms x{o['calls']}" for o in self.top_ops
        ]
        return out


def _labelled(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    from torch.profiler import record_function

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return fn(*args, **kwargs)

    return wrapper


@contextmanager
def _patched(owner: type, attr: str, label: str) -> Iterator[None]:
    original = owner.__dict__[attr]
    setattr(owner, attr, _labelled(label, original))
    try:
        yield
    finally:
        setattr(owner, attr, original)


def summarize(events: Any, device: str, wall_s: float, top: int = 10) -> ProfileSummary:
    """Summary of ``profiler.key_averages()``."""
    summary = ProfileSummary(device=device, wall_s=wall_s)
    cuda = device.startswith("cuda")
    for event in events:
        key = event.key
        if key in PHASES:
            summary.phases_ms[key] = summary.phases_ms.get(key, 0.0) + event.cpu_time_total / 1e3
        elif key.startswith("autograd::engine::evaluate_function"):
            # the engine runs one backward node at a time: totals do not nest
            summary.backward_ms += event.cpu_time_total / 1e3
        if cuda and "Memcpy HtoD" in key:
            summary.h2d_copy_ms += event.self_device_time_total / 1e3
        if cuda:
            summary.device_busy_ms += event.self_device_time_total / 1e3
    summary.phases_ms = {p: round(summary.phases_ms.get(p, 0.0), 3) for p in PHASES}
    attr = "self_device_time_total" if cuda else "self_cpu_time_total"
    ranked = sorted(
        (e for e in events if e.key not in PHASES), key=lambda e: getattr(e, attr), reverse=True
    )
    summary.top_ops = [
        {"name": e.key, "self_ms": round(getattr(e, attr) / 1e3, 3), "calls": int(e.count)}
        for e in ranked[:top]
    ]
    return summary


@dataclass
class TrainingProfile:
    out_dir: Path
    device: str
    summary: ProfileSummary | None = None

    @property
    def trace_path(self) -> Path:
        return self.out_dir / TRACE_FILE

    @property
    def summary_path(self) -> Path:
        return self.out_dir / SUMMARY_FILE


@contextmanager
def profile_training(
    out_dir: Path, device: str, algorithm: str = "PPO"
) -> Iterator[TrainingProfile]:
    """Profile everything in the block (one training); writes trace and summary on exit."""
    import torch
    from stable_baselines3.common.policies import ActorCriticPolicy
    from torch.profiler import ProfilerActivity, profile

    from quant_assets.lib.trading.vec_env import TradingVecEnv
    from quant_assets.lib.training.config import algorithm_class

    out_dir.mkdir(parents=True, exist_ok=True)
    handle = TrainingProfile(out_dir, device)
    activities = [ProfilerActivity.CPU]
    if device.startswith("cuda") and torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    algo = algorithm_class(algorithm)
    with ExitStack() as stack:
        stack.enter_context(_patched(TradingVecEnv, "step_wait", "env_step"))
        stack.enter_context(_patched(ActorCriticPolicy, "forward", "policy_forward"))
        owner = next(c for c in algo.__mro__ if "train" in c.__dict__)
        stack.enter_context(_patched(owner, "train", "train_update"))
        started = time.perf_counter()
        with profile(activities=activities) as prof:
            yield handle
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
    prof.export_chrome_trace(str(handle.trace_path))
    handle.summary = summarize(prof.key_averages(), device, wall)
    handle.summary_path.write_text(handle.summary.to_json())
