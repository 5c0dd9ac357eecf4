"""A symbol's time bars straight from the tick lake, one session in memory at a time.

Calibrating costs over a trailing window used to concatenate every clean tick of the window
(all columns) before binning. Bins never straddle sessions, so each session's clean object is
read with only the columns bars need and binned alone; the per-bin aggregates are concatenated
and only then is anything carried from bar to bar, which gives the very bars the whole-window
build gives (:func:`bars.finish_bars`).
"""

from __future__ import annotations

from collections.abc import Iterable

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.dataset import PartitionRef, load_clean_ticks
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.trading.bars import (
    Bars,
    TickBins,
    bin_ticks,
    build_time_bars,
    concat_bins,
    finish_bars,
    interval_ns,
)

BAR_COLUMNS = ["ts_event", "record_type", "price", "size", "bid_price", "ask_price"]


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
        parts.append(bin_ticks(store.read_parquet(entry.clean_key, columns=BAR_COLUMNS), step))
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
