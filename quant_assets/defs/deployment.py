"""What differs between deployments: the resources, and where the training step runs.

The environment is read once, here, when the code location loads (``Settings.from_env``);
secrets and endpoints stay variable names (``dg.EnvVar``) in the resources' config.
"""

from __future__ import annotations

import dagster as dg

from quant_assets.lib.settings import Settings
from resources.docker_executor import training_executor
from resources.platform import platform_resources

TRAINING_JOB = "train_policy"


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
    return dg.Definitions(resources=platform_resources(settings), jobs=[training_job(settings)])


@dg.definitions
def deployment() -> dg.Definitions:
    return deployment_defs(Settings.from_env())
