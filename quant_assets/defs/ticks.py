"""Tick-lake assets: landed vendor files → raw_ticks + clean_ticks + tick_quarantine.

The three tick assets are built together, per market-session partition, by one step that
walks the session's symbols in chunks and commits each chunk to the warehouse's manifest (the
per-(session, symbol) status, row counts and content versions that checks, sensors, lineage
and research reads use)."""

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import (
    landing_file_partitions,
    session_and_market,
    symbol_partitions,
    tick_partition_key,
    tick_partitions,
)
from quant_assets.defs.retries import retry_transient
from quant_assets.lib.ticks import landing, pipeline
from quant_assets.lib.ticks.cleaning import CleaningConfig
from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.sessions import market_for
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

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


SYMBOLS_TAG = "quant/symbols"  # comma-separated: a backfill (UI/GraphQL) of some symbols only


class CleanTicksConfig(dg.Config):
    spread_median_multiple: float = 50.0
    outlier_window: int = 50
    outlier_mads: float = 10.0
    wide_spread_min_bps: float = 0.0
    trade_band_min_bps: float = 0.0
    max_quote_age_ms: float | None = None  # None: a standing quote never goes stale
    valid_conditions: dict[str, list[str]] | None = None  # per source; None keeps the defaults
    outlier_min_ticks: float = 3.0
    tick_sizes: dict[str, float] = {}  # per symbol; others inferred from the price grid

    def to_cleaning_config(self) -> CleaningConfig:
        config = CleaningConfig(
            spread_median_multiple=self.spread_median_multiple,
            outlier_window=self.outlier_window,
            outlier_mads=self.outlier_mads,
            outlier_min_ticks=self.outlier_min_ticks,
            tick_sizes=dict(self.tick_sizes),
            wide_spread_min_bps=self.wide_spread_min_bps,
            trade_band_min_bps=self.trade_band_min_bps,
            max_quote_age_ms=(math.inf if self.max_quote_age_ms is None else self.max_quote_age_ms),
        )
        if self.valid_conditions is None:
            return config
        valid = {k: frozenset(v) for k, v in self.valid_conditions.items()}
        return replace(config, valid_conditions=valid)


class TickLakeConfig(CleanTicksConfig):
    symbols: list[str] | None = Field(
        default=None,
        description="rebuild only these symbols of the session(s); None: every symbol with "
        "staged data, registered synthetic symbols and symbols already in the manifest",
    )
    chunk_size: int = Field(default=pipeline.DEFAULT_CHUNK_SIZE, ge=1)
    synthetic_ticks_per_session: int = 20_000
    synthetic_seed: int = 0


# Backfills run up to a month of one market per run (Dagster groups a multi-partition range by
# market): a year of one market is 12 runs, a week of every market one run per market.
TICK_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)


def partition_metadata(per_key: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Metadata of a run over one or many partitions (a backfill range): totals, plus the
    per-partition figures when there is more than one."""
    if len(per_key) == 1:
        return next(iter(per_key.values()))
    totals = {
        name: sum(int(m[name]) for m in per_key.values())
        for name in next(iter(per_key.values()))
        if name.endswith("rows") or name == "possible_duplicates"
    }
    # Nested figures go into one JSON value: unwrap metadata values built for a single partition.
    plain = {
        key: {n: v.value if isinstance(v, dg.MetadataValue) else v for n, v in m.items()}
        for key, m in per_key.items()
    }
    return {**totals, "partitions": len(per_key), "by_partition": dg.MetadataValue.json(plain)}


def requested_symbols(context: dg.AssetExecutionContext, config: TickLakeConfig) -> set[str] | None:
    if config.symbols is not None:
        return set(config.symbols)
    tag = context.run.tags.get(SYMBOLS_TAG)
    return {s.strip() for s in tag.split(",") if s.strip()} if tag else None


@dg.multi_asset(
    name="tick_lake_build",
    specs=[
        dg.AssetSpec(
            "raw_ticks",
            deps=[dg.AssetDep(landing_files, partition_mapping=dg.AllPartitionMapping())],
            group_name=TICKS_GROUP,
            kinds={"parquet"},
            description="Canonical ticks of one market-session, every symbol, under ticks_raw/ "
            "(hive layout, day = session date); per-symbol facts in tick_manifest.",
        ),
        dg.AssetSpec(
            "clean_ticks",
            deps=["raw_ticks"],
            group_name=TICKS_GROUP,
            kinds={"parquet"},
            description="Ticks that passed every cleaning rule, under ticks_clean/.",
        ),
        dg.AssetSpec(
            "tick_quarantine",
            deps=["raw_ticks"],
            group_name=TICKS_GROUP,
            kinds={"parquet"},
            description="Rows removed by a cleaning rule, with the rule's reason code.",
        ),
    ],
    partitions_def=tick_partitions,
    backfill_policy=TICK_BACKFILL,
)
def tick_lake(
    context: dg.AssetExecutionContext,
    config: TickLakeConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    cleaning = config.to_cleaning_config()
    synthetic = synthetic_source(config.synthetic_ticks_per_session, config.synthetic_seed)
    only = requested_symbols(context, config)
    registered = [
        s
        for s in context.instance.get_dynamic_partitions(symbol_partitions.name or "symbols")
        if instrument_for(s).synthetic
    ]
    raw: dict[str, dict[str, Any]] = {}
    clean: dict[str, dict[str, Any]] = {}
    quarantine: dict[str, dict[str, Any]] = {}
    with retry_transient(context):
        for key in context.partition_keys:
            session, market = session_and_market(key)
            symbols = pipeline.session_symbols(store, wh, session, market, registered)
            if only is not None:
                symbols = [s for s in symbols if s in only] + sorted(
                    s for s in only - set(symbols) if market_for(s).name == market
                )
            build = pipeline.build_session(
                store,
                wh,
                session,
                market,
                symbols,
                cleaning=cleaning,
                synthetic=synthetic,
                chunk_size=config.chunk_size,
                run_id=context.run.run_id,
            )
            raw[key] = {"rows": build.raw_rows, "symbols": len(build.entries)}
            if len(build.entries) <= 20:  # small sessions: per-symbol rows in the UI too
                raw[key]["rows_by_symbol"] = {e.symbol: e.raw_rows for e in build.entries}
            clean[key] = {
                "rows": build.clean_rows,
                "raw_rows": build.raw_rows,
                "quarantined_rows": build.quarantined_rows,
                "symbols": len(build.entries),
                # rule -> rows removed, copied into ingestion_events.reasons
                "quarantine_reasons": {k: v for k, v in build.reasons().items() if v},
                "possible_duplicates": build.possible_duplicates,  # kept, see cleaning_rules.md
            }
            quarantine[key] = {"rows": build.quarantined_rows, "reasons": build.reasons()}
            if build.swept:
                context.log.info(f"{key}: swept {len(build.swept)} unreferenced objects")
    yield dg.MaterializeResult(asset_key="raw_ticks", metadata=partition_metadata(raw))
    yield dg.MaterializeResult(asset_key="clean_ticks", metadata=partition_metadata(clean))
    yield dg.MaterializeResult(asset_key="tick_quarantine", metadata=partition_metadata(quarantine))
