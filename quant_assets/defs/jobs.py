"""Jobs people launch from the UI/CLI; sensors and backfills target the same selections."""

import dagster as dg

ingest_landing_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets("landing_files"),
    description="Parse one landed vendor file into staged partition pieces (or reject it).",
)

tick_lake_job = dg.define_asset_job(
    "tick_lake",
    selection=dg.AssetSelection.assets("raw_ticks", "clean_ticks", "tick_quarantine"),
    description="Build raw and clean ticks (with quarantine and checks) for a date|symbol.",
)

cost_model_job = dg.define_asset_job(
    "calibrate_costs",
    selection=dg.AssetSelection.assets("cost_model_params"),
    description="Calibrate the cost model for a date|symbol range (backfills).",
)
