"""Partitioned, blocking checks on clean_ticks: a Great Expectations suite and reconciliation."""

import dagster as dg

from quant_assets.defs.partitions import day_and_symbol, tick_partitions
from quant_assets.lib.ticks import pipeline
from quant_assets.lib.ticks.lake import Dataset, partition_object
from resources.object_store import ObjectStoreResource


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="Great Expectations suite: non-null keys, valid symbol and record type, "
    "non-decreasing event time, positive prices and sizes, ask above bid.",
)
def clean_ticks_expectations(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    from quant_assets.lib.ticks.expectations import validate_clean_ticks

    day, symbol = day_and_symbol(context.partition_key)
    table = object_store.get_store().read_parquet(partition_object(Dataset.CLEAN, day, symbol))
    outcome = validate_clean_ticks(table, symbol)
    failing = {f"{f.expectation}({f.column})": f.unexpected_count for f in outcome.failures}
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "all expectations met" if outcome.success else "failing: " + ", ".join(failing)
        ),
        metadata={
            "rows": table.num_rows,
            "expectations_evaluated": outcome.evaluated,
            "failing_expectations": dg.MetadataValue.json(failing),
        },
    )


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="raw rows = clean rows + quarantined rows: cleaning loses nothing.",
)
def clean_ticks_reconcile(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    day, symbol = day_and_symbol(context.partition_key)
    r = pipeline.reconcile(object_store.get_store(), day, symbol)
    return dg.AssetCheckResult(
        passed=r.balanced,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"raw {r.raw} vs clean {r.clean} + quarantined {r.quarantined}",
        metadata={
            "raw_rows": r.raw,
            "clean_rows": r.clean,
            "quarantined_rows": r.quarantined,
            "difference": r.raw - r.clean - r.quarantined,
        },
    )
