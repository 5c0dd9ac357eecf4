"""What differs between deployments: the resources, and where the training step runs.

The environment is read once, here, when the code location loads (``Settings.from_env``);
secrets and endpoints stay variable names (``dg.EnvVar``) in the resources' config.
"""

from __future__ import annotations

import dagster as dg

from quant_assets.defs.alerts import AlertWebhookResource
from quant_assets.lib.settings import Deployment, Settings
from resources.docker_executor import (
    tick_executor,
    training_containers_cleanup_on_failure_sensor,
    training_containers_cleanup_sensor,
    training_executor,
)
from resources.platform import platform_resources

TRAINING_JOB = "train_policy"
TICK_JOB = "tick_lake"
BOUND_JOBS = (TRAINING_JOB, TICK_JOB)  # defined per deployment (their executors differ)


def tick_lake_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    """Build raw and clean ticks (quarantine, checks) of session|market partitions; the
    executor runs each symbol chunk as its own step (a process here, a container in prod)."""
    return dg.define_asset_job(
        TICK_JOB,
        selection=dg.AssetSelection.assets("raw_ticks", "clean_ticks", "tick_quarantine"),
        executor_def=tick_executor(settings),
        description="Build raw and clean ticks (with quarantine and checks) for a session|market: "
        "every symbol of it, or the `symbols` of the run config, one step per symbol chunk.",
    )


def training_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    """Train, evaluate and gate one symbol; in prod each step runs in a GPU container, and the
    run tag caps concurrent trainings at one per GPU (dagster.yaml tag_concurrency_limits)."""
    return dg.define_asset_job(
        TRAINING_JOB,
        selection=dg.AssetSelection.assets("trained_policy", "episodes", "policy_promotion"),
        executor_def=training_executor(settings),
        tags={"quant/gpu": "1"},
        description="trained_policy -> episodes -> policy_promotion for one symbol.",
    )


def deployment_defs(settings: Settings) -> dg.Definitions:
    # prod: exited training-step containers are removed after each run (success or failure)
    cleanup = (
        [training_containers_cleanup_sensor, training_containers_cleanup_on_failure_sensor]
        if settings.deployment is Deployment.PROD
        else []
    )
    resources = {
        **platform_resources(settings),
        "alert_webhook": AlertWebhookResource.from_env(settings.env),
    }
    return dg.Definitions(
        resources=resources,
        jobs=[training_job(settings), tick_lake_job(settings)],
        sensors=cleanup,
        # Jobs without their own executor (the UI's "Materialize", automation and asset
        # backfill runs: cost_model_params) run their steps in the run's process: a process
        # per step would re-import the code location for each (~10 s on a small machine).
        executor=dg.in_process_executor,
    )


@dg.definitions
def deployment() -> dg.Definitions:
    return deployment_defs(Settings.from_env())
