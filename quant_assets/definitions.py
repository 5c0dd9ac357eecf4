"""The code location: ``quant_assets.definitions:defs`` (loaded by workspace.yaml)."""

from __future__ import annotations

import dagster as dg

from quant_assets.defs.jobs import ingest_landing_job, tick_lake_job
from quant_assets.defs.tick_checks import clean_ticks_expectations, clean_ticks_reconcile
from quant_assets.defs.ticks import clean_ticks, landing_files, raw_ticks
from quant_assets.lib.settings import Settings
from resources.object_store import ObjectStoreResource


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """Everything is the same in both deployments except what the resources point at."""
    settings = settings or Settings.from_env()
    return dg.Definitions(
        assets=[landing_files, raw_ticks, clean_ticks],
        asset_checks=[clean_ticks_expectations, clean_ticks_reconcile],
        jobs=[ingest_landing_job, tick_lake_job],
        resources={"object_store": ObjectStoreResource.from_settings(settings)},
    )


defs = build_defs()
