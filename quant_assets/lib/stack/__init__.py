"""The compose stack (docker/compose.yaml) run with plain Podman: the plan and its runner."""

from quant_assets.lib.stack.compose import ComposeError, ComposeProject, Condition, Service
from quant_assets.lib.stack.podman import ContainerState, PodmanStack, StackError

__all__ = [
    "ComposeError",
    "ComposeProject",
    "Condition",
    "ContainerState",
    "PodmanStack",
    "Service",
    "StackError",
]
