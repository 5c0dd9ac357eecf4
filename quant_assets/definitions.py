"""The code location (``[tool.dg.project]`` in pyproject.toml): every module of ``defs/``."""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg

from quant_assets.lib.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """The definitions of ``defs/``; with ``settings``, bound to that deployment instead of the
    one the environment describes (tests, the CLI's explicit settings)."""
    loaded = dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
    if settings is None:
        return loaded
    from quant_assets.defs.automation import automation_sensor
    from quant_assets.defs.deployment import BOUND_JOBS, deployment_defs
    from quant_assets.defs.sensors import tick_lake_sensors

    bound = deployment_defs(settings)
    jobs = [j for j in loaded.jobs or [] if j.name not in BOUND_JOBS]
    # Sensors whose intervals come from the settings replace the environment's.
    bound_sensors = {
        s.name: s
        for s in [*(bound.sensors or []), *tick_lake_sensors(settings), automation_sensor(settings)]
    }
    return dg.Definitions(
        assets=loaded.assets,
        asset_checks=loaded.asset_checks,
        schedules=loaded.schedules,
        sensors=[
            *(s for s in loaded.sensors or [] if s.name not in bound_sensors),
            *bound_sensors.values(),
        ],
        jobs=[*jobs, *(bound.jobs or [])],
        resources=bound.resources,
        executor=bound.executor,
    )


@functools.cache
def environment_defs() -> dg.Definitions:
    """The definitions the environment describes, built once per process: the local run
    launcher's zygote builds them before it forks run workers, so a run does not rebuild them
    (the environment is read when they are built)."""
    return build_defs()


@dg.definitions
def defs() -> dg.Definitions:
    return environment_defs()
