"""Tick-lake assets: landed vendor files → raw_ticks + clean_ticks + tick_quarantine.

The three tick assets are built together, per market-session partition, by a graph whose
steps fan out over symbol chunks (``tick_steps``): the executor runs the chunks in parallel
processes, containers or pods, and a last step commits them to the warehouse's manifest (the
per-(session, symbol) status, row counts and content versions that checks, sensors, lineage
and research reads use)."""

import dagster as dg

from quant_assets.defs.partitions import (
    landing_file_partitions,
    symbol_partitions,
    tick_partition_key,
    tick_partitions,
)
from quant_assets.defs.tick_steps import (
    STEP_IO,
    SYMBOLS_TAG,
    CleanTicksConfig,
    TickLakeConfig,
    partition_metadata,
    tick_lake_graph,
    tick_step_io_manager,
)
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.sessions import market_for
from resources.object_store import ObjectStoreResource

__all__ = [  # the build's config and metadata helpers live with its steps
    "SYMBOLS_TAG",
    "TICK_BACKFILL",
    "CleanTicksConfig",
    "TickLakeConfig",
    "landing_files",
    "partition_metadata",
    "tick_lake",
]

TICK_ASSETS = ("raw_ticks", "clean_ticks", "tick_quarantine")
TICKS_GROUP = "tick_lake"
# No time-window freshness policy: a historical partition built once is correct for ever, and
# "last materialized more than a day ago" would flag all of them. Freshness is judged on the data
# (clean_ticks_freshness: the last tick reaches the session close) and on arrival (the sensors).


@dg.asset(
    partitions_def=landing_file_partitions,
    group_name=TICKS_GROUP,
    kinds={"parquet"},
    description="One vendor file from landing/incoming/<source>/, parsed and staged by partition.",
)
def landing_files(
    context: dg.AssetExecutionContext, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store = object_store.get_store()
    landed = landing.find_incoming(store, context.partition_key)
    try:
        result = landing.ingest(store, landed)
    except landing.FileRejected as exc:  # one line; the full trace is in the reason file
        moved_to = f"{landing.REJECTED}/{landed.relative}"
        raise dg.Failure(
            description=f"rejected {landed.key}: {exc} (reason: {moved_to}.reason.txt)",
            metadata={"file": landed.key, "moved_to": moved_to, "unsupported": exc.unsupported},
        ) from None
    symbols = sorted({symbol for _, symbol in result.partitions})
    new = [s for s in symbols if not context.instance.has_dynamic_partition("symbols", s)]
    if new:
        context.instance.add_dynamic_partitions(symbol_partitions.name or "symbols", new)
    by_key: dict[str, set[str]] = {}
    # Partitions a corrected re-drop no longer covers are rebuilt too (their stale rows go).
    for session, symbol in set(result.partitions) | set(result.removed):
        by_key.setdefault(tick_partition_key(session, market_for(symbol).name), set()).add(symbol)
    return dg.MaterializeResult(
        metadata={
            "file": result.file.key,
            "source": result.source,
            "rows": result.rows,
            "skipped_rows": result.skipped_rows,
            "tick_partitions": dg.MetadataValue.json(sorted(by_key)),
            "symbols_by_partition": dg.MetadataValue.json(
                {k: sorted(v) for k, v in sorted(by_key.items())}
            ),
            "archived_to": result.archived_to or "(changed during ingest: stays in incoming/)",
        }
    )


# Backfills run up to a month of one market per run (Dagster groups a multi-partition range by
# market): a year of one market is 12 runs, a week of every market one run per market.
TICK_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)

_PARQUET = {"dagster/kind/parquet": ""}

tick_lake = dg.AssetsDefinition.from_graph(
    tick_lake_graph,
    keys_by_input_name={"landing_files": landing_files.key},
    keys_by_output_name={name: dg.AssetKey(name) for name in TICK_ASSETS},
    # Lineage as a multi-asset would declare it: raw from the landed files, the rest from raw.
    internal_asset_deps={
        "raw_ticks": {landing_files.key},
        "clean_ticks": {dg.AssetKey("raw_ticks")},
        "tick_quarantine": {dg.AssetKey("raw_ticks")},
    },
    partitions_def=tick_partitions,
    partition_mappings={"landing_files": dg.AllPartitionMapping()},
    group_name=TICKS_GROUP,
    descriptions_by_output_name={
        "raw_ticks": "Canonical ticks of one market-session, every symbol, under ticks_raw/ "
        "(hive layout, day = session date); per-symbol facts in tick_manifest.",
        "clean_ticks": "Ticks that passed every cleaning rule, under ticks_clean/.",
        "tick_quarantine": "Rows removed by a cleaning rule, with the rule's reason code.",
    },
    tags_by_output_name=dict.fromkeys(TICK_ASSETS, _PARQUET),
    backfill_policy=TICK_BACKFILL,
    resource_defs={STEP_IO: tick_step_io_manager},
)
