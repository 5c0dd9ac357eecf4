"""Jobs people launch from the UI/CLI; sensors and backfills target the same selections.

Ingest and calibration run every step in the run's own process (``in_process_executor``): one
step each, a process per step would only re-import the code location. The ``tick_lake`` build
fans out over symbol chunks and its executor depends on the deployment: it is defined in
``deployment.py``.
"""

import dagster as dg

ingest_landing_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.assets("landing_files"),
    executor_def=dg.in_process_executor,
    description="Parse one landed vendor file into staged partition pieces (or reject it).",
)

cost_model_job = dg.define_asset_job(
    "calibrate_costs",
    selection=dg.AssetSelection.assets("cost_model_params"),
    executor_def=dg.in_process_executor,
    description="Calibrate the cost model for a session|market range (backfills).",
)
