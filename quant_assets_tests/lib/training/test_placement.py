from __future__ import annotations

import pytest

from quant_assets.lib.training.placement import GpuUnavailableError, resolve_placement


def test_placement_gpu_container_without_cuda_raises_naming_the_cause() -> None:
    with pytest.raises(GpuUnavailableError, match="dropped the GPU request"):
        resolve_placement("auto", {"QUANT_REQUIRE_GPU": "1"}, cuda_available=False)


def test_placement_cuda_config_without_cuda_raises() -> None:
    with pytest.raises(GpuUnavailableError, match='device="cuda"'):
        resolve_placement("cuda", {}, cuda_available=False)


def test_placement_cpu_allowed_trains_on_cpu_with_warning() -> None:
    env = {"QUANT_REQUIRE_GPU": "1", "QUANT_ALLOW_CPU_TRAINING": "1"}
    placement = resolve_placement("cuda", env, cuda_available=False)
    assert placement.device == "cpu" and placement.warning


def test_placement_gpu_present_or_not_expected_unchanged() -> None:
    assert resolve_placement("auto", {"QUANT_REQUIRE_GPU": "1"}, cuda_available=True).device == (
        "auto"
    )
    assert resolve_placement("cpu", {}, cuda_available=False).device == "cpu"
    assert resolve_placement("auto", {}, cuda_available=False).device == "auto"


def test_placement_marker_matches_the_executor_constant() -> None:
    from quant_assets.lib.training.placement import REQUIRE_GPU_ENV
    from resources.docker_executor import REQUIRE_GPU_ENV as EXECUTOR_MARKER

    assert REQUIRE_GPU_ENV == EXECUTOR_MARKER
