"""The steps of a tick-lake build, fanned out over symbol chunks.

A build of one market-session partition (or a backfill range of them) is a graph of steps:

* ``plan_chunks``: reads the manifest and the staged pieces, splits each session's symbols into
  chunks of ``chunk_size`` (one dynamic output per chunk);
* ``build_chunk`` (one step per chunk): writes the chunk's raw, clean and quarantine objects and
  returns their manifest entries; it never opens the warehouse, so chunks run in parallel
  processes, containers or pods (DuckDB admits one writing process);
* ``commit_chunks``: commits each chunk's entries (one transaction each, after every object is
  written), sweeps orphans and reports the three assets.

The executor of the job decides where each step runs. Values passed between the steps (the
chunk plans and the entries) go through the object store (``tick_step_io``), which every step of
every executor reaches, rather than a local ``DAGSTER_HOME``.
"""

import math
import os
import pickle
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import session_and_market, symbol_partitions
from quant_assets.defs.retries import retry_transient
from quant_assets.lib.ticks import pipeline
from quant_assets.lib.ticks.clean_config import DEFAULT_MAX_ROWS_IN_MEMORY
from quant_assets.lib.ticks.cleaning import CleaningConfig
from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.ticks.pipeline import SymbolChunk
from quant_assets.lib.ticks.sessions import market_for
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

SYMBOLS_TAG = "quant/symbols"  # comma-separated: a backfill (UI/GraphQL) of some symbols only
STEP_IO = "tick_step_io"
STEP_IO_PREFIX = "_dagster/steps"  # object-store prefix of the values passed between steps


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
    # a bigger (session, symbol) partition is built in windows of this many rows, in bounded
    # memory with the same output (docs/cleaning_rules.md, "Bounded memory")
    max_rows_in_memory: int = DEFAULT_MAX_ROWS_IN_MEMORY

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
            max_rows_in_memory=self.max_rows_in_memory,
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
    chunk_size: int = Field(
        default=pipeline.DEFAULT_CHUNK_SIZE,
        ge=1,
        description="symbols per build step (each chunk is its own step of the executor)",
    )
    synthetic_ticks_per_session: int = 20_000
    synthetic_seed: int = 0


@dg.config_mapping
def tick_lake_config(config: TickLakeConfig) -> dict[str, Any]:
    """``ops: {tick_lake_build: {config: ...}}`` in run config, as for a single-step build:
    every step of the graph gets the same values."""
    values = {"config": config.model_dump()}
    return {"plan_chunks": values, "build_chunk": values, "commit_chunks": values}


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


def requested_symbols(context: dg.OpExecutionContext, config: TickLakeConfig) -> set[str] | None:
    if config.symbols is not None:
        return set(config.symbols)
    tag = context.run.tags.get(SYMBOLS_TAG)
    return {s.strip() for s in tag.split(",") if s.strip()} if tag else None


# --------------------------------------------------------------------------- step values


class ObjectStoreStepIO(dg.IOManager):
    """Pickles step outputs under ``_dagster/steps/<run>/<step>/<output>``: small values (chunk
    plans, manifest entries) that a step in another process, container or pod reads back.
    Re-execution of a failed chunk reads its siblings' outputs from the parent run's keys."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @staticmethod
    def _key(parts: Sequence[str]) -> str:
        return "/".join([STEP_IO_PREFIX, *(re.sub(r"[^A-Za-z0-9_.=-]", "_", p) for p in parts)])

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self._store.write_bytes(self._key(context.get_identifier()), pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None
        return pickle.loads(self._store.read_bytes(self._key(upstream.get_identifier())))


def clear_step_values(store: Any, run: dg.DagsterRun) -> int:
    """Delete the step values of ``run`` (and of the runs it re-executes) once committed."""
    deleted = 0
    for run_id in {run.run_id, run.parent_run_id, run.root_run_id} - {None}:
        for key in list(store.list(f"{STEP_IO_PREFIX}/{run_id}/")):
            store.delete(key)
            deleted += 1
    return deleted


@dg.io_manager(required_resource_keys={"object_store"})
def tick_step_io_manager(init_context: dg.InitResourceContext) -> ObjectStoreStepIO:
    return ObjectStoreStepIO(init_context.resources.object_store.get_store())


# --------------------------------------------------------------------------- the steps


@dg.op(
    ins={"landing_files": dg.In(dg.Nothing)},
    out=dg.DynamicOut(SymbolChunk, io_manager_key=STEP_IO),
    description="Split each session's symbols into chunks; one build step per chunk.",
)
def plan_chunks(
    context: dg.OpExecutionContext,
    config: TickLakeConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.DynamicOutput[SymbolChunk]]:
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    only = requested_symbols(context, config)
    registered = [
        s
        for s in context.instance.get_dynamic_partitions(symbol_partitions.name or "symbols")
        if instrument_for(s).synthetic
    ]
    planned: list[SymbolChunk] = []
    with retry_transient(context):
        for key in context.partition_keys:
            session, market = session_and_market(key)
            symbols = pipeline.session_symbols(store, wh, session, market, registered)
            if only is not None:
                symbols = [s for s in symbols if s in only] + sorted(
                    s for s in only - set(symbols) if market_for(s).name == market
                )
            planned += pipeline.plan_chunks(session, market, symbols, config.chunk_size)
    if not planned:  # nothing to build: one empty chunk, so the commit still sweeps and reports
        session, market = session_and_market(context.partition_keys[0])
        planned = [SymbolChunk(session, market, 0, ())]
    context.log.info(f"{len(planned)} chunk(s) of up to {config.chunk_size} symbols")
    for chunk in planned:
        yield dg.DynamicOutput(chunk, mapping_key=chunk.mapping_key)


@dg.op(
    out=dg.Out(list[ManifestEntry], io_manager_key=STEP_IO),
    description="Write raw, clean and quarantine objects of one symbol chunk (no commit).",
)
def build_chunk(
    context: dg.OpExecutionContext,
    config: TickLakeConfig,
    object_store: ObjectStoreResource,
    chunk: SymbolChunk,
) -> dg.Output[list[ManifestEntry]]:
    synthetic = synthetic_source(config.synthetic_ticks_per_session, config.synthetic_seed)
    with retry_transient(context):
        entries = pipeline.build_chunk(
            object_store.get_store(),
            chunk,
            config.to_cleaning_config(),
            synthetic,
            run_id=context.run.run_id,
        )
    return dg.Output(
        entries,
        metadata={
            "partition": f"{chunk.session.isoformat()}|{chunk.market}",
            "symbols": len(chunk.symbols),
            "raw_rows": sum(e.raw_rows for e in entries),
            # where the step ran: a container's or pod's hostname under a container executor
            "worker_host": os.uname().nodename,
            "worker_pid": os.getpid(),
        },
    )


NOTHING = dg.Out(dg.Nothing)


@dg.op(
    out={"raw_ticks": NOTHING, "clean_ticks": NOTHING, "tick_quarantine": NOTHING},
    description="Commit every chunk to the manifest (one transaction each), sweep, report.",
)
def commit_chunks(
    context: dg.OpExecutionContext,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
    built: list[list[ManifestEntry]],
) -> Iterator[dg.Output[None]]:
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    raw: dict[str, dict[str, Any]] = {}
    clean: dict[str, dict[str, Any]] = {}
    quarantine: dict[str, dict[str, Any]] = {}
    with retry_transient(context):
        for key in context.partition_keys:
            session, market = session_and_market(key)
            build = pipeline.commit_session(store, wh, session, market, built)
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
        clear_step_values(store, context.run)
    yield dg.Output(None, "raw_ticks", metadata=partition_metadata(raw))
    yield dg.Output(None, "clean_ticks", metadata=partition_metadata(clean))
    yield dg.Output(None, "tick_quarantine", metadata=partition_metadata(quarantine))


@dg.graph(
    name="tick_lake_build",
    config=tick_lake_config,
    ins={"landing_files": dg.GraphIn()},
    out={
        "raw_ticks": dg.GraphOut(),
        "clean_ticks": dg.GraphOut(),
        "tick_quarantine": dg.GraphOut(),
    },
)
def tick_lake_graph(landing_files: Any) -> dict[str, Any]:
    built = plan_chunks(landing_files).map(build_chunk).collect()
    raw, clean, quarantine = commit_chunks(built)
    return {"raw_ticks": raw, "clean_ticks": clean, "tick_quarantine": quarantine}
