"""Rules about vendor data quality that BN-H (2009) do not cover: duplicates judged by evidence,
non-finite and absurd numbers, the price grid's tick size, and which clock a time is on.

Pure numpy/Arrow, used by :mod:`cleaning` (see docs/cleaning_rules.md for why each exists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DuplicatePolicy = Literal["evidence", "drop", "keep"]


def contiguous(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One Arrow array; a single chunk is used in place (``combine_chunks`` copies it)."""
    if isinstance(col, pa.Array):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def has_identity(table: pa.Table) -> BoolArray:
    """Rows carrying a vendor trade id or sequence number: for them a repeat is an error."""
    ids = pc.or_(pc.is_valid(table.column("trade_id")), pc.is_valid(table.column("sequence")))
    return np.asarray(contiguous(ids).to_numpy(zero_copy_only=False), dtype=bool)


def duplicate_verdicts(
    repeats: BoolArray, table: pa.Table, policy: Mapping[str, DuplicatePolicy]
) -> tuple[BoolArray, BoolArray]:
    """Split exact repeats into errors (quarantined) and possible duplicates (kept, counted)."""
    if not repeats.any():
        return repeats, repeats
    error = repeats & has_identity(table)
    source = contiguous(table.column("source"))
    for name, rule in policy.items():
        if rule == "evidence":
            continue
        of_source = np.asarray(pc.fill_null(pc.equal(source, name), False), dtype=bool)
        error = np.where(of_source, repeats & (rule == "drop"), error)
    return error, repeats & ~error


def nonfinite(values: FloatArray, valid: BoolArray) -> BoolArray:
    """NaN or infinite values that are present (a null is missing, not non-finite)."""
    return valid & ~np.isfinite(values)


def absurd(values: FloatArray, limit: float) -> BoolArray:
    """Finite values beyond ``limit`` in magnitude (two allocation-free scans when none)."""
    if values.size == 0 or (bn.nanmax(values) <= limit and bn.nanmin(values) >= -limit):
        return np.zeros(values.size, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.abs(values) > limit)


FLOAT_SIDES = ("price", "size", "bid_price", "ask_price", "bid_size", "ask_size")


def value_faults(
    is_trade: BoolArray,
    floats: Mapping[str, tuple[FloatArray, BoolArray]],
    max_price: float,
    max_size: float,
) -> tuple[BoolArray, BoolArray]:
    """``(non-finite, absurd)`` per row from ``floats`` (column -> (values, not finite)): a
    trade is judged on its price and size, a quote on its four sides."""
    trade, quote = ("price", "size"), ("bid_price", "ask_price", "bid_size", "ask_size")

    def any_of(names: tuple[str, ...], test: Callable[[str], BoolArray]) -> BoolArray:
        out = test(names[0])
        for name in names[1:]:
            out = out | test(name)
        return out

    def bad(name: str) -> BoolArray:
        return floats[name][1]

    def too_big(name: str) -> BoolArray:
        return absurd(floats[name][0], max_price if name.endswith("price") else max_size)

    non_finite = np.where(is_trade, any_of(trade, bad), any_of(quote, bad))
    absurd_value = np.where(is_trade, any_of(trade, too_big), any_of(quote, too_big))
    return non_finite, absurd_value


_TICK_CANDIDATES = np.array(
    [m * 10.0**e for e in range(-8, 4) for m in (1.0, 2.5, 5.0)], dtype=np.float64
)


def infer_tick_size(prices: FloatArray, share: float = 0.99) -> float | None:
    """Largest usual tick (1, 2.5 or 5 x 10^k) on whose grid ``share`` of the prices lie, no
    larger than the typical gap between distinct prices; None with fewer than 20 prices."""
    p = prices[np.isfinite(prices) & (prices > 0)]
    if p.size < 20:
        return None
    if p.size > 100_000:
        p = p[:: p.size // 100_000]
    distinct = np.unique(p)
    gaps = np.diff(distinct)
    ceiling = float(np.median(gaps)) if gaps.size else float(distinct[0])
    for tick in _TICK_CANDIDATES[::-1]:
        if tick > ceiling * (1 + 1e-9):
            continue
        steps = p / tick
        on_grid = np.abs(steps - np.round(steps)) <= 1e-6
        if on_grid.mean() >= share:
            return float(tick)
    return None


def matching_times(table: pa.Table, is_trade: BoolArray) -> IntArray | None:
    """Receive times when trades and quotes are on different clocks (one source stamps
    exchange time, the other only our receive time) and every row has a receive time, so a
    trade is judged by the quote that prevailed on the same clock; None = use ts_event."""
    if "clock" not in table.column_names or table.column("clock").null_count == table.num_rows:
        return None
    receive = np.asarray(
        pc.fill_null(pc.equal(table.column("clock"), "receive"), False), dtype=bool
    )
    trade_clocks = {bool(x) for x in np.unique(receive[is_trade])}
    quote_clocks = {bool(x) for x in np.unique(receive[~is_trade])}
    if len(trade_clocks | quote_clocks) < 2 or table.column("ts_recv").null_count:
        return None
    return contiguous(table.column("ts_recv")).cast(pa.int64()).to_numpy()
