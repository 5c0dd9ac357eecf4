"""The code location: ``quant_assets.definitions:defs`` (loaded by workspace.yaml)."""

from __future__ import annotations

import dagster as dg

from quant_assets.defs.alerts import AlertWebhookResource, failure_webhook_sensor
from quant_assets.defs.costs import cost_model_params
from quant_assets.defs.evaluation import episodes, policy_promotion
from quant_assets.defs.jobs import cost_model_job, ingest_landing_job, tick_lake_job
from quant_assets.defs.ops import rollback_policy_job
from quant_assets.defs.partitions import symbol_partitions
from quant_assets.defs.retention import (
    bucket_lifecycle,
    metrics_archive,
    nightly_retention,
    retention_job,
)
from quant_assets.defs.sensors import (
    failed_run_sensor,
    ingestion_events_sensor,
    landed_partitions_sensor,
    landing_sensor,
    retrain_sensor,
)
from quant_assets.defs.tick_checks import (
    clean_ticks_expectations,
    clean_ticks_freshness,
    clean_ticks_reconcile,
)
from quant_assets.defs.ticks import landing_files, tick_lake
from quant_assets.defs.training import trained_policy
from quant_assets.lib.settings import Deployment, Settings
from resources.docker_executor import (
    training_containers_cleanup_on_failure_sensor,
    training_containers_cleanup_sensor,
    training_executor,
)
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource


def training_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    """Train, evaluate and gate one symbol; in prod each step runs in a GPU container, and the
    run tag caps concurrent trainings at one per GPU (dagster.yaml tag_concurrency_limits)."""
    return dg.define_asset_job(
        "train_policy",
        selection=dg.AssetSelection.assets(trained_policy, episodes, policy_promotion),
        partitions_def=symbol_partitions,
        executor_def=training_executor(settings),
        tags={"quant/gpu": "1"},
        description="trained_policy -> episodes -> policy_promotion for one symbol.",
    )


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """Everything is the same in both deployments except what the resources point at."""
    settings = settings or Settings.from_env()
    prod_sensors = (
        [training_containers_cleanup_sensor, training_containers_cleanup_on_failure_sensor]
        if settings.deployment is Deployment.PROD
        else []
    )
    return dg.Definitions(
        assets=[
            landing_files,
            tick_lake,
            cost_model_params,
            trained_policy,
            episodes,
            policy_promotion,
            metrics_archive,
            bucket_lifecycle,
        ],
        asset_checks=[clean_ticks_expectations, clean_ticks_reconcile, clean_ticks_freshness],
        jobs=[
            ingest_landing_job,
            tick_lake_job,
            cost_model_job,
            training_job(settings),
            rollback_policy_job,
            retention_job,
        ],
        schedules=[nightly_retention],
        sensors=[
            landing_sensor,
            landed_partitions_sensor,
            retrain_sensor,
            failed_run_sensor,
            ingestion_events_sensor,
            failure_webhook_sensor,
            *prod_sensors,
        ],
        resources={
            "object_store": ObjectStoreResource.from_settings(settings),
            "warehouse": WarehouseResource.from_settings(settings),
            "alert_webhook": AlertWebhookResource.from_env(),
        },
    )


defs = build_defs()
