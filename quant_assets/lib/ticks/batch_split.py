"""One landed record batch grouped by (session, symbol) partition: one sort and one take.

Landing splits every batch of a vendor file; this was a third of its time. The partition of
each row is a small integer (session offset in the batch times the symbol count, plus the
symbol), sorted stably by Arrow's counting sort; the rows are gathered once and each partition
is a zero-copy slice. Vendor symbol spellings are normalised per distinct value. The symbol
column is not gathered: it is the partition's, and :func:`complete_piece` puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.instruments import normalize_symbol
from quant_assets.lib.ticks.lake import partition_days
from quant_assets.lib.ticks.schema import conform
from quant_assets.lib.ticks.sessions import (
    SessionRange,
    from_day_number,
)

PartitionKey = tuple[date, str]


@dataclass(frozen=True)
class _Codes:
    """Each row's partition as ``key`` = session offset x symbol count + symbol."""

    key: npt.NDArray[np.int64]
    first_day: int
    symbols: list[str]

    def partition(self, k: int) -> PartitionKey:
        n = len(self.symbols)
        return from_day_number(self.first_day + k // n), self.symbols[k % n]


def _codes(table: pa.Table, allowed: SessionRange | None) -> _Codes:
    ts = table.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy()
    enc = pc.dictionary_encode(table.column("symbol").combine_chunks())
    normalized = [normalize_symbol(s) for s in enc.dictionary.to_pylist()]
    symbols = sorted(set(normalized))
    to_symbol = np.asarray([symbols.index(s) for s in normalized], dtype=np.int64)
    sym_idx = to_symbol[enc.indices.to_numpy()]
    days = partition_days(ts, symbols, sym_idx, allowed)
    first_day = int(days.min())
    return _Codes((days - first_day) * len(symbols) + sym_idx, first_day, symbols)


def split_batch(
    table: pa.Table, allowed: SessionRange | None = None
) -> dict[PartitionKey, pa.Table]:
    """Rows of ``table`` per (session date of ts_event under the symbol's calendar, normalised
    symbol), each in the batch's row order and without the ``symbol`` column. With ``allowed``,
    the first row outside it raises :class:`SessionOutOfRangeError` (``row``: its index)."""
    if table.num_rows == 0:
        return {}
    codes = _codes(table, allowed)
    order = pc.array_sort_indices(pa.array(codes.key))  # stable; a counting sort (small range)
    sorted_key = codes.key[order.to_numpy()]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    ends = np.r_[starts[1:], sorted_key.size]
    grouped = table.drop_columns(["symbol"]).take(order)
    return {
        codes.partition(int(sorted_key[start])): grouped.slice(start, end - start)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def partition_rows(table: pa.Table) -> dict[PartitionKey, int]:
    """How many rows of ``table`` each partition would get (no rows moved)."""
    if table.num_rows == 0:
        return {}
    codes = _codes(table, None)
    keys, counts = np.unique(codes.key, return_counts=True)
    return {codes.partition(int(k)): int(c) for k, c in zip(keys, counts, strict=True)}


def complete_piece(
    piece: pa.Table, symbol: str, constants: dict[str, str] | None = None
) -> pa.Table:
    """A partition's rows from :func:`split_batch` as canonical ticks: the symbol, the columns
    with one value for the whole file (``VendorRead.constants``) and those the vendor lacks
    put back."""
    for name, value in {"symbol": symbol, **(constants or {})}.items():
        piece = piece.append_column(name, pa.repeat(pa.scalar(value, pa.string()), piece.num_rows))
    return conform(piece)
