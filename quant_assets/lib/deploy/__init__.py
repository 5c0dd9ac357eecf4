"""Blue/green deploys of code locations: state, workspace rendering and health decisions.

Pure logic (no Dagster import); process handling and gRPC checks live in ``quant_assets.deploy``.
"""

from quant_assets.lib.deploy.health import CheckResult, HealthReport
from quant_assets.lib.deploy.state import (
    CodeServer,
    Color,
    DeployError,
    DeployState,
    LocationState,
    load_state,
    pick_port,
    save_state,
)
from quant_assets.lib.deploy.workspace import render_workspace, write_atomic

__all__ = [
    "CheckResult",
    "CodeServer",
    "Color",
    "DeployError",
    "DeployState",
    "HealthReport",
    "LocationState",
    "load_state",
    "pick_port",
    "render_workspace",
    "save_state",
    "write_atomic",
]
