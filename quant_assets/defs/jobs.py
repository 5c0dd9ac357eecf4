"""Jobs people launch from the UI/CLI; sensors and backfills target the same selections."""

import dagster as dg

from quant_assets.defs.partitions import landing_file_partitions, tick_partitions

ingest_landing_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets("landing_files"),
    partitions_def=landing_file_partitions,
    description="Parse one landed vendor file into staged partition pieces (or reject it).",
)

tick_lake_job = dg.define_asset_job(
    "tick_lake",
    selection=dg.AssetSelection.assets("raw_ticks", "clean_ticks", "tick_quarantine"),
    partitions_def=tick_partitions,
    description="Build raw and clean ticks (with quarantine and checks) for a session|market: "
    "every symbol of it, or the `symbols` of the run config.",
)

cost_model_job = dg.define_asset_job(
    "calibrate_costs",
    selection=dg.AssetSelection.assets("cost_model_params"),
    partitions_def=tick_partitions,
    description="Calibrate the cost model for a session|market range (backfills).",
)
