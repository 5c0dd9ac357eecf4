"""Jobs people launch from the UI/CLI; sensors and backfills target the same selections.

The tick jobs run every step in the run's own process (``in_process_executor``): the steps are
pure Python over the object store, a process per step would only re-import the code location
(and Great Expectations) each time, and a failure still fails just this partition's run.
"""

import dagster as dg

ingest_landing_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets("landing_files"),
    executor_def=dg.in_process_executor,
    description="Parse one landed vendor file into staged partition pieces (or reject it).",
)

tick_lake_job = dg.define_asset_job(
    "tick_lake",
    selection=dg.AssetSelection.assets("raw_ticks", "clean_ticks", "tick_quarantine"),
    executor_def=dg.in_process_executor,
    description="Build raw and clean ticks (with quarantine and checks) for a session|market: "
    "every symbol of it, or the `symbols` of the run config.",
)

cost_model_job = dg.define_asset_job(
    "calibrate_costs",
    selection=dg.AssetSelection.assets("cost_model_params"),
    executor_def=dg.in_process_executor,
    description="Calibrate the cost model for a session|market range (backfills).",
)
