"""Hive layout of the tick lake and the table operations that move rows between its zones.

A partition is one UTC day of one symbol and is stored as exactly one Parquet object, so
replacing a partition is a single atomic put (see ``ObjectStore.write_parquet``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.cleaning import merge_order_key, row_hashes
from quant_assets.lib.ticks.schema import conform, empty_ticks

NS_PER_DAY = 86_400 * 1_000_000_000
PARTITION_FILE = "data.parquet"


class Dataset(StrEnum):
    RAW = "ticks_raw"
    CLEAN = "ticks_clean"
    QUARANTINE = "tick_quarantine"


def partition_prefix(dataset: str, day: date, symbol: str) -> str:
    return f"{dataset}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}/symbol={symbol}"


def partition_object(dataset: str, day: date, symbol: str) -> str:
    return f"{partition_prefix(dataset, day, symbol)}/{PARTITION_FILE}"


def split_by_partition(table: pa.Table) -> dict[tuple[date, str], pa.Table]:
    """Group rows by (UTC day of ts_event, symbol), keeping each group's row order."""
    if table.num_rows == 0:
        return {}
    days = table.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy() // NS_PER_DAY
    enc = pc.dictionary_encode(table.column("symbol").combine_chunks())
    sym_idx = enc.indices.to_numpy()
    symbols = enc.dictionary.to_pylist()
    key = days * len(symbols) + sym_idx
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    bounds = np.flatnonzero(np.diff(sorted_key)) + 1
    out: dict[tuple[date, str], pa.Table] = {}
    for chunk in np.split(order, bounds):
        k = int(key[chunk[0]])
        day = datetime.fromtimestamp((k // len(symbols)) * NS_PER_DAY / 1e9, tz=UTC).date()
        out[(day, symbols[k % len(symbols)])] = table.take(chunk)
    return out


def merge_pieces(pieces: list[pa.Table]) -> pa.Table:
    """Interleave pieces from several files by time while keeping each file's own row order.

    Sorting on each piece's running-max time (not the raw time) leaves a vendor's out-of-order
    rows where they arrived, so the cleaning stage can see and quarantine them.
    """
    pieces = [p for p in pieces if p.num_rows]
    if not pieces:
        return empty_ticks()
    keys = np.concatenate(
        [
            merge_order_key(p.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy())
            for p in pieces
        ]
    )
    merged = pa.concat_tables([conform(p) for p in pieces])
    return merged.take(np.argsort(keys, kind="stable"))


def table_fingerprint(table: pa.Table) -> str:
    """Content version of a partition: equal for equal rows in equal order, across processes.

    Used as the Dagster data version, so lineage records exactly which data a model saw.
    """
    hashes = row_hashes(table) if table.num_rows else np.zeros(0, np.uint64)
    # Position-weighted sum: order-sensitive, one pass, no Python per row.
    weights = np.arange(1, hashes.size + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        digest = int(np.sum(hashes * weights, dtype=np.uint64))
    return f"{table.num_rows:x}-{digest:016x}"


_PARTITION_RE = re.compile(
    r"^(?P<ds>[a-z_]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/symbol=(?P<s>[^/]+)/"
)


def list_partitions(
    keys: Iterable[str], dataset: str, symbol: str | None = None
) -> list[tuple[date, str]]:
    """(day, symbol) of every partition object of ``dataset`` among object ``keys``, sorted."""
    found = set()
    for key in keys:
        m = _PARTITION_RE.match(key)
        if m and m["ds"] == dataset and (symbol is None or m["s"] == symbol):
            found.add((date(int(m["y"]), int(m["m"]), int(m["d"])), m["s"]))
    return sorted(found)
