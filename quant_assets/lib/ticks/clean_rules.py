"""The individual cleaning rules: pure, vectorised functions returning a "fails" mask.

No per-row Python; each rule sees numpy arrays (or Arrow columns for text) of one partition.
:mod:`cleaning` applies them in order; docs/cleaning_rules.md explains each one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.row_hash import row_hashes

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def local_time_spikes(ts: IntArray) -> BoolArray:
    """Rows out of order with their neighbours while the neighbours agree with each other.

    Catches an isolated early or late timestamp without condemning the rows after a late spike.
    When one row or its predecessor could be blamed (``1, 5, 3, 7``), the row that arrived with
    the earlier time is: a report arriving late is the usual vendor fault.
    """
    n = ts.size
    if n < 3:
        return np.zeros(n, dtype=bool)
    prev, cur, nxt = ts[:-2], ts[1:-1], ts[2:]
    consistent = prev <= nxt
    early = np.zeros(n, dtype=bool)
    early[1:-1] = (cur < prev) & consistent
    late = np.zeros(n, dtype=bool)
    late[1:-1] = (cur > nxt) & consistent & ~early[2:]
    early[1:] &= ~late[:-1]
    return early | late


def behind_running_max(ts: IntArray) -> BoolArray:
    """Rows earlier than some row before them: the backstop that makes the output monotonic."""
    if ts.size == 0:
        return np.zeros(0, dtype=bool)
    prev_max = np.maximum.accumulate(ts)
    out = np.zeros(ts.size, dtype=bool)
    out[1:] = ts[1:] < prev_max[:-1]
    return out


def merge_order_key(ts: IntArray) -> IntArray:
    """Sort key that interleaves several sources by time but keeps each source's own order.

    It is the running maximum of the source's timestamps, ignoring isolated spikes, so a stable
    sort on it never reorders rows within one source (their disorder stays visible to cleaning).
    """
    if ts.size == 0:
        return ts.copy()
    masked = np.where(local_time_spikes(ts), np.iinfo(np.int64).min, ts)
    return np.maximum.accumulate(masked)


def exact_duplicates(table: pa.Table, ts: IntArray) -> BoolArray:
    """Every occurrence after the first of a row identical in all columns.

    Identical rows share their timestamp, so only rows whose timestamp occurs more than once are
    hashed; the stable sort that finds them is near-linear on arrival-ordered ticks.
    """
    n = ts.size
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    order = np.argsort(ts, kind="stable")
    same_next = ts[order[1:]] == ts[order[:-1]]
    in_run = np.zeros(n, dtype=bool)
    in_run[1:] |= same_next
    in_run[:-1] |= same_next
    candidates = np.sort(order[in_run])
    if candidates.size < 2:
        return out
    c_ts, c_hash = ts[candidates], row_hashes(table.take(candidates))
    c_order = np.lexsort((c_hash, c_ts))  # lexsort is stable: first occurrence stays first
    same = (c_ts[c_order[1:]] == c_ts[c_order[:-1]]) & (c_hash[c_order[1:]] == c_hash[c_order[:-1]])
    out[candidates[c_order[1:][same]]] = True
    return out


def missing_prices(
    is_trade: BoolArray, price: FloatArray, bid: FloatArray, ask: FloatArray
) -> BoolArray:
    """A trade without price; a quote without a bid or an ask. A side of exactly 0 is the usual
    "no bid/offer" convention (TAQ NBBO, one-sided feeds), so it counts as missing too."""
    with np.errstate(invalid="ignore"):
        one_sided = np.isnan(bid) | np.isnan(ask) | (bid == 0) | (ask == 0)
    return np.where(is_trade, np.isnan(price), one_sided)


def nonpositive_prices(
    is_trade: BoolArray, price: FloatArray, bid: FloatArray, ask: FloatArray
) -> BoolArray:
    return np.where(is_trade, price <= 0, (bid <= 0) | (ask <= 0))


def nonpositive_sizes(
    is_trade: BoolArray, size: FloatArray, bid_size: FloatArray, ask_size: FloatArray
) -> BoolArray:
    """Zero or negative sizes; a missing size (e.g. FX indications) is not evidence of error."""
    return np.where(is_trade, size <= 0, (bid_size <= 0) | (ask_size <= 0))


def outside_sessions(ts: IntArray, windows: IntArray) -> BoolArray:
    """Rows not inside any [open, close) window; ``windows`` is sorted, shape (k, 2)."""
    if windows.size == 0:
        return np.ones(ts.size, dtype=bool)
    idx = np.searchsorted(windows[:, 0], ts, side="right") - 1
    inside = (idx >= 0) & (ts < windows[np.clip(idx, 0, None), 1])
    return ~inside


def invalid_conditions(conditions: pa.Array, valid: frozenset[str]) -> BoolArray:
    """Rows whose comma-separated condition codes include one outside ``valid``.

    Distinct strings are few, so each is judged once and mapped back through dictionary indices.
    """
    enc = pc.dictionary_encode(conditions)
    verdict = np.array(
        [
            any(code.strip() and code.strip() not in valid for code in s.split(","))
            for s in enc.dictionary.to_pylist()
        ]
        + [False],
        dtype=bool,
    )
    idx = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy()
    return verdict[idx]


def crossed_quotes(bid: FloatArray, ask: FloatArray) -> BoolArray:
    return bid > ask


def locked_quotes(bid: FloatArray, ask: FloatArray) -> BoolArray:
    return bid == ask


def wide_spreads(spread: FloatArray, mid: FloatArray, multiple: float, min_bps: float) -> BoolArray:
    """Spreads above ``multiple`` x the median spread of the given (valid) quotes and above
    ``min_bps`` of the mid."""
    if spread.size == 0:
        return np.zeros(0, dtype=bool)
    return (spread > multiple * float(np.median(spread))) & (spread > min_bps * 1e-4 * mid)


def _centred(move: Callable[..., FloatArray], x: FloatArray, window: int) -> FloatArray:
    """Apply a trailing bottleneck moving statistic centred on each point.

    NaN padding on both sides shrinks the window at the edges (bottleneck skips NaNs).
    """
    half = window // 2
    pad = np.full(half, np.nan)
    padded = np.concatenate([pad, x, pad])
    trailing = move(padded, window=2 * half + 1, min_count=min(half + 1, x.size))
    return np.asarray(trailing[2 * half :], dtype=np.float64)


def centred_rolling_median(x: FloatArray, window: int) -> FloatArray:
    """Median of the ``window + 1`` observations centred on each point (shrinking at the edges)."""
    return _centred(bn.move_median, x, window)


ROLLING_BLOCK = 1 << 16  # rolling statistics run in aligned blocks of this many points


def rolling_outliers(
    x: FloatArray,
    window: int,
    n_mads: float,
    min_obs: int,
    min_bps: float = 0.0,
    min_abs: float = 0.0,
) -> BoolArray:
    """Points more than ``n_mads`` mean absolute deviations (plus ``min_bps`` of the median)
    from a centred rolling median, and more than ``min_abs`` (the tick floor) from it."""
    blocks = rolling_outlier_blocks(
        lambda a, b: x[a:b], x.size, window, n_mads, min_obs, min_bps, min_abs
    )
    return np.concatenate([np.zeros(0, dtype=bool), *blocks])


def rolling_outlier_blocks(
    read: Callable[[int, int], FloatArray],
    n: int,
    window: int,
    n_mads: float,
    min_obs: int,
    min_bps: float = 0.0,
    min_abs: float = 0.0,
) -> Iterator[BoolArray]:
    """:func:`rolling_outliers` of the ``n`` points ``read(a, b)`` returns, block by block.

    Each block of :data:`ROLLING_BLOCK` points is computed from itself and ``window``
    neighbours each side (the median needs half a window, the mean of deviations another),
    always the same blocks: bottleneck's moving mean is a running sum whose rounding depends
    on where it starts, so a fixed alignment makes the verdicts the same whether the points
    are in memory or read from disk by the bounded-memory build."""
    if n < min_obs:
        for start in range(0, n, ROLLING_BLOCK):
            yield np.zeros(min(ROLLING_BLOCK, n - start), dtype=bool)
        return
    context = 2 * (window // 2)
    for start in range(0, n, ROLLING_BLOCK):
        stop = min(n, start + ROLLING_BLOCK)
        lo, hi = max(0, start - context), min(n, stop + context)
        x = read(lo, hi)
        median = centred_rolling_median(x, window)
        dev = np.abs(x - median)
        limit = n_mads * _centred(bn.move_mean, dev, window) + min_bps * 1e-4 * median
        yield (dev > np.maximum(limit, min_abs))[start - lo : stop - lo]


def prevailing_quotes(
    is_valid_quote: BoolArray, ts: IntArray, max_quote_age_ns: int
) -> tuple[IntArray, BoolArray]:
    """Index of the last valid quote at or before each row, and whether it is fresh enough
    (no older than ``max_quote_age_ns``) to judge that row."""
    n = ts.size
    idx = np.where(is_valid_quote, np.arange(n), -1)
    prevailing = np.maximum.accumulate(idx) if n else idx
    q = np.clip(prevailing, 0, None)
    return q, (prevailing >= 0) & (ts - ts[q] <= max_quote_age_ns)


def trades_outside_quotes(
    is_trade: BoolArray,
    quote_idx: IntArray,
    has_quote: BoolArray,
    price: FloatArray,
    bid: FloatArray,
    ask: FloatArray,
    min_band_bps: float = 0.0,
) -> BoolArray:
    """Trades priced outside [bid - band, ask + band] of their prevailing quote, where
    band = max(spread, ``min_band_bps`` of the mid); trades without a fresh quote pass."""
    b, a = bid[quote_idx], ask[quote_idx]
    band = np.maximum(a - b, min_band_bps * 1e-4 * (a + b) * 0.5)
    with np.errstate(invalid="ignore"):
        outside = (price < b - band) | (price > a + band)
    return is_trade & has_quote & outside


def ms_to_ns(ms: float) -> int:
    return int(np.iinfo(np.int64).max) if math.isinf(ms) else int(ms * 1_000_000)
