"""Hive layout of the tick lake and the table operations that move rows between its zones.

Objects live under ``<dataset>/year=YYYY/month=MM/day=DD/symbol=SYM/`` where the date is the
symbol's trading *session* date (``sessions``: exchange-local, extended hours in their session,
the UTC date for 24/7 markets). Each build of a (session, symbol) writes a new object named by
its content version, ``part-<version>.parquet``; the warehouse's ``tick_manifest`` says which
object is current, so a reader never sees half a build (see ``manifest``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.clean_rules import merge_order_key
from quant_assets.lib.ticks.row_hash import row_hashes
from quant_assets.lib.ticks.schema import conform, empty_ticks
from quant_assets.lib.ticks.sessions import (
    SessionRange,
    day_number,
    from_day_number,
    market_for,
    session_days,
)

_GOLDEN_RATIO = np.uint64(0x9E3779B97F4A7C15)


class Dataset(StrEnum):
    RAW = "ticks_raw"
    CLEAN = "ticks_clean"
    QUARANTINE = "tick_quarantine"


def partition_prefix(dataset: str, day: date, symbol: str) -> str:
    return f"{dataset}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}/symbol={symbol}"


def session_prefix(dataset: str, day: date) -> str:
    return f"{dataset}/year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"


def partition_object(dataset: str, day: date, symbol: str, version: str) -> str:
    """The object of one build of (session ``day``, ``symbol``) with content ``version``."""
    return f"{partition_prefix(dataset, day, symbol)}/part-{version}.parquet"


class SessionOutOfRangeError(ValueError):
    """A tick's session falls outside the sessions the lake accepts."""

    def __init__(self, row: int, ts_ns: int, symbol: str, allowed: str) -> None:
        self.row = row  # 0-based row of the table
        when = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat()
        super().__init__(
            f"tick at {when} ({symbol}) is outside the allowed sessions {allowed} "
            "(QUANT_FIRST_SESSION to tomorrow)"
        )


def partition_days(
    ts: npt.NDArray[np.int64],
    symbols: list[str],
    sym_idx: npt.NDArray[np.integer],
    allowed: SessionRange | None,
) -> npt.NDArray[np.int64]:
    """Each row's session day number under its symbol's calendar (one pass per calendar, not
    per symbol); :class:`SessionOutOfRangeError` for the first row outside ``allowed``."""
    calendars = [market_for(s).calendar for s in symbols]
    names = sorted(set(calendars))
    if len(names) == 1:
        days = np.asarray(session_days(names[0], ts), dtype=np.int64)
    else:
        cal_idx = np.asarray([names.index(c) for c in calendars], dtype=np.int64)[sym_idx]
        days = np.empty(ts.shape, dtype=np.int64)
        for i, name in enumerate(names):
            rows = np.flatnonzero(cal_idx == i)
            days[rows] = session_days(name, ts[rows])
    if allowed is not None:
        lo, hi = day_number(allowed.first), day_number(allowed.last)
        bad = np.flatnonzero((days < lo) | (days > hi))
        if bad.size:
            row = int(bad[0])
            raise SessionOutOfRangeError(row, int(ts[row]), symbols[sym_idx[row]], str(allowed))
    return days


def split_by_partition(
    table: pa.Table, allowed: SessionRange | None = None
) -> dict[tuple[date, str], pa.Table]:
    """Group rows by (session date of ts_event under the symbol's calendar, symbol), keeping
    each group's row order. With ``allowed``, the first row outside it raises
    :class:`SessionOutOfRangeError` (so the file is rejected as a whole)."""
    if table.num_rows == 0:
        return {}
    ts = table.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy()
    enc = pc.dictionary_encode(table.column("symbol").combine_chunks())
    sym_idx = enc.indices.to_numpy()
    symbols = enc.dictionary.to_pylist()
    days = partition_days(ts, symbols, sym_idx, allowed)
    key = days * len(symbols) + sym_idx
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    ends = np.r_[starts[1:], key.size]
    grouped = table.take(order)  # one gather, then zero-copy slices (not a take per group)
    out: dict[tuple[date, str], pa.Table] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        k = int(sorted_key[start])
        part = (from_day_number(k // len(symbols)), symbols[k % len(symbols)])
        out[part] = grouped.slice(start, end - start)
    return out


def merge_pieces(pieces: list[pa.Table]) -> pa.Table:
    """Interleave pieces from several files by time while keeping each file's own row order.

    Sorting on each piece's running-max time (not the raw time) leaves a vendor's out-of-order
    rows where they arrived, so the cleaning stage can see and quarantine them.
    """
    pieces = [p for p in pieces if p.num_rows]
    if not pieces:
        return empty_ticks()
    if len(pieces) == 1:  # one file: its order is the merge order already
        return conform(pieces[0])
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
    return hashes_fingerprint(row_hashes(table) if table.num_rows else np.zeros(0, np.uint64))


def hashes_fingerprint(hashes: npt.NDArray[np.uint64]) -> str:
    """:func:`table_fingerprint` from the table's :func:`row_hashes` (a build hashes the raw
    rows once and derives the clean and quarantine versions from them)."""
    # Position-weighted sum: order-sensitive, one pass, no Python per row.
    weights = np.arange(1, hashes.size + 1, dtype=np.uint64) * _GOLDEN_RATIO
    with np.errstate(over="ignore"):
        digest = int(np.sum(hashes * weights, dtype=np.uint64))
    return f"{hashes.size:x}-{digest:016x}"


class Digest:
    """:func:`lake.hashes_fingerprint` accumulated over consecutive slices of the hashes."""

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, hashes: npt.NDArray[np.uint64]) -> None:
        with np.errstate(over="ignore"):
            weights = np.arange(self.rows + 1, self.rows + hashes.size + 1, dtype=np.uint64)
            part = int(np.sum(hashes * (weights * _GOLDEN_RATIO), dtype=np.uint64))
        self._sum = (self._sum + part) % (1 << 64)
        self.rows += int(hashes.size)

    @property
    def version(self) -> str:
        return f"{self.rows:x}-{self._sum:016x}"
