"""A symbol's time bars straight from the tick lake, one session in memory at a time.

Calibrating costs over a trailing window used to concatenate every clean tick of the window
(all columns) before binning. Bins never straddle sessions, so each session's clean object is
read with only the columns bars need and binned alone; the per-bin aggregates are concatenated
and only then is anything carried from bar to bar, which gives the very bars the whole-window
build gives (:func:`bars.finish_bars`). A session over ``STREAMED_SESSION_ROWS`` clean rows (a
liquid symbol's quote day: tens of millions) is binned a row group at a time, the rows of each
group's last, possibly unfinished bin held back for the next group, so every bin is still
aggregated from all its ticks at once (the same bars); clean rows are in time order, and a
session that is not falls back to one read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from quant_assets.lib.costs import CalibrationError, CostModelConfig
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.dataset import PartitionRef, load_clean_ticks
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.ticks.merge_stream import times
from quant_assets.lib.trading.bars import (
    Bars,
    TickBins,
    bin_ticks,
    build_time_bars,
    calibrate_bars,
    concat_bins,
    finish_bars,
    interval_ns,
)
from quant_assets.lib.warehouse.base import Warehouse

BAR_COLUMNS = ["ts_event", "record_type", "price", "size", "bid_price", "ask_price"]
#: sessions with more clean rows are binned a row group at a time
STREAMED_SESSION_ROWS = 1_000_000


def session_bins(store: ObjectStore, entry: ManifestEntry, step: int) -> TickBins:
    """One session's bins; in bounded memory above ``STREAMED_SESSION_ROWS`` rows."""
    if entry.clean_rows <= STREAMED_SESSION_ROWS:
        return bin_ticks(store.read_parquet(entry.clean_key, columns=BAR_COLUMNS), step)
    parts: list[TickBins] = []
    held: pa.Table | None = None
    for group in store.iter_row_groups(entry.clean_key, columns=BAR_COLUMNS):
        table = group if held is None else pa.concat_tables([held, group])
        ts = times(table)
        if ts.size > 1 and np.any(np.diff(ts) < 0):  # not in time order: bin it whole
            return bin_ticks(store.read_parquet(entry.clean_key, columns=BAR_COLUMNS), step)
        if not ts.size:
            continue
        cut = int(np.searchsorted(ts, ts[-1] // step * step))  # first row of the last bin
        if cut:
            parts.append(bin_ticks(table.slice(0, cut), step))
        held = table.slice(cut)
    if held is not None and held.num_rows:
        parts.append(bin_ticks(held, step))
    return concat_bins(parts)


def clean_bars(
    store: ObjectStore,
    entries: Iterable[ManifestEntry],
    interval: str = "1min",
    *,
    fallback_spread_bps: float = 1.0,
) -> tuple[Bars, list[PartitionRef]]:
    """Bars of one symbol's clean ticks over manifest ``entries`` (sessions without clean rows
    skipped), with the partitions read, as :func:`dataset.load_clean_ticks` records them."""
    step = interval_ns(interval)
    ordered = sorted(entries, key=lambda e: (e.session_date, e.symbol))
    symbols = {e.symbol for e in ordered}
    if len(symbols) > 1:
        raise ValueError(f"entries of several symbols {sorted(symbols)[:5]}")
    symbol = next(iter(symbols), "")
    parts: list[TickBins] = []
    refs: list[PartitionRef] = []
    for entry in ordered:
        if entry.clean_rows == 0:
            continue
        parts.append(session_bins(store, entry, step))
        refs.append(PartitionRef(entry.partition_key, entry.clean_rows, entry.clean_version))
    try:
        bins = concat_bins(parts)
    except ValueError:  # sessions sharing a bin: bin the window's ticks together
        ticks, _ = load_clean_ticks(store, ordered)
        bars = build_time_bars(
            ticks, interval, symbol=symbol, fallback_spread_bps=fallback_spread_bps
        )
        return bars, refs
    bars = finish_bars(bins, step, symbol=symbol, fallback_spread_bps=fallback_spread_bps)
    return bars, refs


def calibrate_symbol(
    store: ObjectStore,
    warehouse: Warehouse,
    session: date,
    entries: list[ManifestEntry],
    *,
    bar_interval: str = "1min",
    trailing_days: int = 5,
    cost_config: CostModelConfig | None = None,
) -> dict[str, Any]:
    """Calibrate one symbol at ``session`` over the trailing window of its clean ticks (the
    cost_model_params asset, per symbol), store the params, and return its metadata."""
    bars, refs = clean_bars(store, entries, bar_interval)
    inputs = [r.to_dict() for r in refs]
    if len(bars.ts) < 2:
        # A window of closed sessions (a long weekend at the start of the data) has nothing to
        # calibrate on: recorded as such, not invented, and not a failure of a whole backfill.
        return {
            "version": None,
            "status": f"no clean ticks in the {trailing_days} days to {session}",
            "input_partitions": inputs,
        }
    try:
        params = calibrate_bars(bars, cost_config)
    except CalibrationError as exc:  # refused (no volume, no returns): recorded, not invented
        return {
            "version": None,
            "status": f"refused: {exc}",
            "warnings": [f"refused: {exc}"],
            "input_partitions": inputs,
        }
    as_of = datetime.combine(session + timedelta(days=1), time(), tzinfo=UTC)
    warehouse.upsert_cost_model_params(
        bars.symbol, params.version, as_of, params.model_dump(mode="json")
    )
    return {
        "version": params.version,
        "median_spread_bps": round(params.median_spread_bps, 4),
        "daily_vol": round(params.daily_vol, 6),
        "adv": round(params.adv, 1),
        "bars": params.n_bars,
        "sessions": params.n_days,
        "provenance": {k: v.model_dump() for k, v in params.provenance.items()},
        "warnings": list(params.warnings),
        "input_partitions": inputs,
    }
