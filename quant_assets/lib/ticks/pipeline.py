"""Partition builds of the tick lake, independent of the orchestrator.

Each function reads its inputs from the object store, does the work, writes one object per
output partition and returns what it did, so Dagster assets (and tests) are thin callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.storage.object_store import ObjectStore, parquet_num_rows
from quant_assets.lib.ticks.cleaning import CleaningConfig, CleaningResult, clean_ticks
from quant_assets.lib.ticks.instruments import instrument_for, session_windows
from quant_assets.lib.ticks.lake import Dataset, merge_pieces, partition_object
from quant_assets.lib.ticks.landing import staged_pieces

SyntheticSource = Callable[[str, date], pa.Table]


@dataclass(frozen=True)
class RawBuild:
    rows: int
    rows_by_source: dict[str, int]
    staged_pieces: int
    uri: str


def build_raw(
    store: ObjectStore, day: date, symbol: str, synthetic: SyntheticSource | None = None
) -> RawBuild:
    """Merge the partition's staged vendor pieces (and synthetic ticks for synthetic symbols)."""
    pieces = staged_pieces(store, day, symbol)
    n_staged = len(pieces)
    if synthetic is not None and instrument_for(symbol).synthetic:
        pieces.append(synthetic(symbol, day))
    table = merge_pieces(pieces)
    key = partition_object(Dataset.RAW, day, symbol)
    store.write_parquet(key, table)
    counts = pc.value_counts(table.column("source")).to_pylist() if table.num_rows else []
    return RawBuild(
        rows=table.num_rows,
        rows_by_source={c["values"]: int(c["counts"]) for c in counts},
        staged_pieces=n_staged,
        uri=store.uri(key),
    )


def build_clean(
    store: ObjectStore, day: date, symbol: str, config: CleaningConfig | None = None
) -> CleaningResult:
    raw = store.read_parquet(partition_object(Dataset.RAW, day, symbol))
    calendar = instrument_for(symbol).calendar
    result = clean_ticks(raw, session_windows(calendar, day), config, calendar=calendar)
    store.write_parquet(partition_object(Dataset.CLEAN, day, symbol), result.clean)
    store.write_parquet(partition_object(Dataset.QUARANTINE, day, symbol), result.quarantine)
    return result


@dataclass(frozen=True)
class Reconciliation:
    raw: int
    clean: int
    quarantined: int

    @property
    def balanced(self) -> bool:
        return self.raw == self.clean + self.quarantined


def reconcile(store: ObjectStore, day: date, symbol: str) -> Reconciliation:
    """Row counts of the three zones from Parquet footers: raw must equal clean + quarantine."""
    return Reconciliation(
        raw=parquet_num_rows(store, partition_object(Dataset.RAW, day, symbol)),
        clean=parquet_num_rows(store, partition_object(Dataset.CLEAN, day, symbol)),
        quarantined=parquet_num_rows(store, partition_object(Dataset.QUARANTINE, day, symbol)),
    )


def close_gap_minutes(store: ObjectStore, day: date, symbol: str) -> float | None:
    """Minutes between the last clean tick and the end of the day's last session window;
    None on a closed day (nothing expected) and inf when the session has no data at all."""
    windows = session_windows(instrument_for(symbol).calendar, day)
    if windows.size == 0:
        return None
    table = store.read_parquet(partition_object(Dataset.CLEAN, day, symbol), columns=["ts_event"])
    if table.num_rows == 0:
        return float("inf")
    last = pc.max(table.column("ts_event").cast(pa.int64())).as_py()
    return max(0.0, (int(windows[-1, 1]) - int(last)) / 60e9)
