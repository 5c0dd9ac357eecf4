"""The code location's tick build with ``docker_executor`` taking its config from run config.

The container test (test_tick_containers.py) needs test-only bind mounts (the repository, an
SQLite DAGSTER_HOME) that the deployment's ``configured`` executor cannot take; everything else
(assets, steps, the deployment's resources from the environment) is the code location's own.
Imported inside the step containers as well (the code pointer): imports only dagster,
dagster_docker and the project.
"""

from __future__ import annotations

import dagster as dg

TICK_ASSETS = ("raw_ticks", "clean_ticks", "tick_quarantine")


def tick_job_in_containers() -> dg.JobDefinition:
    from dagster_docker import docker_executor

    from quant_assets.defs.ticks import landing_files, tick_lake
    from quant_assets.lib.settings import Settings
    from resources.platform import platform_resources

    job = dg.define_asset_job(
        "tick_lake_in_containers",
        selection=dg.AssetSelection.assets(*TICK_ASSETS).without_checks(),
        executor_def=docker_executor,
    )
    # QUANT_* of the environment (prod: S3 and TimescaleDB in the test), the deployment's
    # resources; only the tick modules are imported (a step does not need the training stack).
    resources = platform_resources(Settings.from_env())
    defs = dg.Definitions(assets=[landing_files, tick_lake], resources=resources, jobs=[job])
    return defs.resolve_job_def("tick_lake_in_containers")
