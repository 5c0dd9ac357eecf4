"""Where a training actually runs: fail loudly when a GPU training lands on CPU.

Podman (and Docker without the NVIDIA toolkit) can accept a container's GPU request and start it
without any device: torch then reports no CUDA and SB3's ``device="auto"`` quietly trains on CPU,
tens of times slower, and nothing says why. The prod executor marks the containers it starts with
GPUs (``QUANT_REQUIRE_GPU=1``); a training there, or one configured with ``device="cuda"``, that
sees no CUDA device raises :class:`GpuUnavailableError` unless ``QUANT_ALLOW_CPU_TRAINING=1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REQUIRE_GPU_ENV = "QUANT_REQUIRE_GPU"
ALLOW_CPU_ENV = "QUANT_ALLOW_CPU_TRAINING"


class GpuUnavailableError(RuntimeError):
    """A training that should run on a GPU sees none."""


@dataclass(frozen=True)
class Placement:
    device: str  # what to pass to SB3: "cuda", "cpu" or "auto"
    gpu_expected: bool
    gpu_available: bool
    warning: str | None = None


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes"}


def resolve_placement(
    device: str, env: Mapping[str, str], *, cuda_available: bool, cuda_devices: int = 0
) -> Placement:
    expected = device == "cuda" or _flag(env, REQUIRE_GPU_ENV)
    if not expected or cuda_available:
        return Placement(device, expected, cuda_available)
    why = (
        f"{REQUIRE_GPU_ENV}=1: the step container was started with a GPU request"
        if _flag(env, REQUIRE_GPU_ENV)
        else 'the training config asks for device="cuda"'
    )
    message = (
        f"{why}, but torch sees no CUDA device ({cuda_devices} visible). The container engine "
        "dropped the GPU request (Podman needs the NVIDIA CDI spec: `nvidia-ctk cdi generate`; "
        "Docker needs nvidia-container-toolkit) or the driver is too old for the image's CUDA. "
        f"Fix the host, or set {ALLOW_CPU_ENV}=1 to train on CPU deliberately."
    )
    if not _flag(env, ALLOW_CPU_ENV):
        raise GpuUnavailableError(message)
    return Placement("cpu", expected, False, warning=f"training on CPU ({ALLOW_CPU_ENV}=1): {why}")
