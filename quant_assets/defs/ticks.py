"""Tick-lake assets: landed vendor files → raw_ticks → clean_ticks + tick_quarantine."""

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import dagster as dg

from quant_assets.defs.partitions import (
    day_and_symbol,
    landing_file_partitions,
    symbol_partitions,
    tick_partition_key,
    tick_partitions,
)
from quant_assets.defs.retries import retry_transient
from quant_assets.lib.ticks import landing, pipeline
from quant_assets.lib.ticks.cleaning import CleaningConfig
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from resources.object_store import ObjectStoreResource

TICKS_GROUP = "tick_lake"
TICK_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=3), warn_window=timedelta(days=1)
)


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
    except Exception as exc:
        raise dg.Failure(
            description=f"rejected {landed.key}: {exc}",
            metadata={"file": landed.key, "moved_to": f"{landing.REJECTED}/{landed.relative}"},
        ) from exc
    symbols = sorted({symbol for _, symbol in result.partitions})
    new = [s for s in symbols if not context.instance.has_dynamic_partition("symbols", s)]
    if new:
        context.instance.add_dynamic_partitions(symbol_partitions.name or "symbols", new)
    tick_keys = sorted(tick_partition_key(d, s) for d, s in result.partitions)
    return dg.MaterializeResult(
        metadata={
            "file": result.file.key,
            "source": result.source,
            "rows": result.rows,
            "tick_partitions": dg.MetadataValue.json(tick_keys),
            "archived_to": result.archived_to,
        }
    )


class RawTicksConfig(dg.Config):
    synthetic_ticks_per_session: int = 20_000
    synthetic_seed: int = 0


# Backfills run up to a month of one symbol per run (Dagster groups a multi-partition range by
# symbol): a year of one symbol is 12 runs, a week of every symbol one run per symbol.
TICK_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)


def partition_metadata(per_key: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metadata of a run over one or many partitions (a backfill range): totals, plus the
    per-partition figures when there is more than one."""
    if len(per_key) == 1:
        return next(iter(per_key.values()))
    totals = {
        name: sum(int(m[name]) for m in per_key.values())
        for name in next(iter(per_key.values()))
        if name.endswith("rows")
    }
    return {**totals, "partitions": len(per_key), "by_partition": dg.MetadataValue.json(per_key)}


@dg.asset(
    partitions_def=tick_partitions,
    group_name=TICKS_GROUP,
    kinds={"parquet"},
    freshness_policy=TICK_FRESHNESS,
    backfill_policy=TICK_BACKFILL,
    deps=[dg.AssetDep(landing_files, partition_mapping=dg.AllPartitionMapping())],
    description="Canonical ticks of one UTC day x symbol under ticks_raw/ (hive layout).",
)
def raw_ticks(
    context: dg.AssetExecutionContext, config: RawTicksConfig, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store = object_store.get_store()
    synthetic = synthetic_source(config.synthetic_ticks_per_session, config.synthetic_seed)
    per_key: dict[str, dict[str, Any]] = {}
    with retry_transient(context):
        for key in context.partition_keys:
            day, symbol = day_and_symbol(key)
            build = pipeline.build_raw(store, day, symbol, synthetic)
            per_key[key] = {
                "rows": build.rows,
                "rows_by_source": build.rows_by_source,
                "staged_pieces": build.staged_pieces,
                "uri": build.uri,
            }
    return dg.MaterializeResult(metadata=partition_metadata(per_key))


class CleanTicksConfig(dg.Config):
    spread_median_multiple: float = 50.0
    outlier_window: int = 50
    outlier_mads: float = 10.0
    wide_spread_min_bps: float = 0.0
    trade_band_min_bps: float = 0.0
    max_quote_age_ms: float | None = None  # None: a standing quote never goes stale
    valid_conditions: dict[str, list[str]] | None = None  # per source; None keeps the defaults

    def to_cleaning_config(self) -> CleaningConfig:
        config = CleaningConfig(
            spread_median_multiple=self.spread_median_multiple,
            outlier_window=self.outlier_window,
            outlier_mads=self.outlier_mads,
            wide_spread_min_bps=self.wide_spread_min_bps,
            trade_band_min_bps=self.trade_band_min_bps,
            max_quote_age_ms=(math.inf if self.max_quote_age_ms is None else self.max_quote_age_ms),
        )
        if self.valid_conditions is None:
            return config
        valid = {k: frozenset(v) for k, v in self.valid_conditions.items()}
        return replace(config, valid_conditions=valid)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "clean_ticks",
            deps=[raw_ticks],
            group_name=TICKS_GROUP,
            kinds={"parquet"},
            freshness_policy=TICK_FRESHNESS,
            description="Ticks that passed every cleaning rule, under ticks_clean/.",
        ),
        dg.AssetSpec(
            "tick_quarantine",
            deps=[raw_ticks],
            group_name=TICKS_GROUP,
            kinds={"parquet"},
            description="Rows removed by a cleaning rule, with the rule's reason code.",
        ),
    ],
    partitions_def=tick_partitions,
    backfill_policy=TICK_BACKFILL,
)
def clean_ticks(
    context: dg.AssetExecutionContext, config: CleanTicksConfig, object_store: ObjectStoreResource
) -> Iterator[dg.MaterializeResult]:
    store = object_store.get_store()
    cleaning = config.to_cleaning_config()
    clean: dict[str, dict[str, Any]] = {}
    quarantine: dict[str, dict[str, Any]] = {}
    with retry_transient(context):
        results = {
            key: pipeline.build_clean(store, *day_and_symbol(key), cleaning)
            for key in context.partition_keys
        }
    for key, result in results.items():
        clean[key] = {
            "rows": result.clean.num_rows,
            "raw_rows": result.raw_rows,
            "quarantined_rows": result.quarantine.num_rows,
            # rule -> rows removed, copied into ingestion_events.reasons
            "quarantine_reasons": {k: v for k, v in result.reason_counts.items() if v},
        }
        quarantine[key] = {
            "rows": result.quarantine.num_rows,
            "reasons": {k: v for k, v in result.reason_counts.items() if v},
        }
    yield dg.MaterializeResult(asset_key="clean_ticks", metadata=partition_metadata(clean))
    yield dg.MaterializeResult(asset_key="tick_quarantine", metadata=partition_metadata(quarantine))
