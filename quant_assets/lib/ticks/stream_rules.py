"""The cleaning rules of :func:`cleaning.classify` over one window of a partition, with what
carries from window to window, for the bounded-memory build (:mod:`streaming_build`).

The same rule functions in the same order; only what a rule needs from outside the window is
carried: two rows of time context for spikes, the running maximum of kept times, the (time,
row hash) pairs a later kept row could repeat, the last valid quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.clean_config import REASONS, CleaningConfig, Reason
from quant_assets.lib.ticks.clean_rules import (
    BoolArray,
    FloatArray,
    IntArray,
    crossed_quotes,
    local_time_spikes,
    locked_quotes,
    missing_prices,
    ms_to_ns,
    nonpositive_prices,
    nonpositive_sizes,
    outside_sessions,
    trades_outside_quotes,
)
from quant_assets.lib.ticks.cleaning import _floats_valid, condition_faults, rule_windows
from quant_assets.lib.ticks.schema import RecordType
from quant_assets.lib.ticks.vendor_rules import contiguous, duplicate_verdicts, value_faults

Codes = np.ndarray  # int8 reason codes of a window, changed in place

_NO_TIME = int(np.iinfo(np.int64).min)


def _code(rule: Reason) -> int:
    return REASONS.index(rule) + 1


def _apply(reason: Codes, rule: Reason, fails: BoolArray) -> None:
    reason[(reason == 0) & fails] = _code(rule)


@dataclass
class Window:
    """One window's rows and the numeric columns every pass reads."""

    table: pa.Table
    ts: IntArray
    is_trade: BoolArray
    floats: dict[str, tuple[FloatArray, BoolArray]]

    @classmethod
    def of(cls, table: pa.Table) -> Window:
        ts = contiguous(table.column("ts_event")).cast(pa.int64()).to_numpy()
        is_trade = pc.equal(table.column("record_type"), RecordType.TRADE.value)
        names = ("price", "size", "bid_price", "ask_price", "bid_size", "ask_size")
        return cls(
            table,
            np.asarray(ts, dtype=np.int64),
            np.asarray(pc.fill_null(is_trade, False).to_numpy(), dtype=bool),
            {name: _floats_valid(table, name) for name in names},
        )

    @property
    def price(self) -> FloatArray:
        return self.floats["price"][0]

    @property
    def bid(self) -> FloatArray:
        return self.floats["bid_price"][0]

    @property
    def ask(self) -> FloatArray:
        return self.floats["ask_price"][0]


@dataclass
class Carry:
    """What pass 1 carries between windows, and what it learns about the whole partition."""

    before: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    running_max: int = _NO_TIME  # the latest time of a kept row so far
    seen_ts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seen_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    symbols: set[str] = field(default_factory=set)
    receive_clock: bool = False
    exchange_clock: bool = False
    recv_nulls: bool = False

    def repeats(self, ts: IntArray, hashes: np.ndarray) -> BoolArray:
        """Rows identical (same time, same row hash) to an earlier row, then keep the pairs a
        later kept row could still repeat: those at or after the running maximum."""
        all_ts = np.concatenate([self.seen_ts, ts])
        all_hash = np.concatenate([self.seen_hash, hashes])
        out = np.zeros(all_ts.size, dtype=bool)
        order = np.argsort(all_ts, kind="stable")
        same_next = all_ts[order[1:]] == all_ts[order[:-1]]
        in_run = np.zeros(all_ts.size, dtype=bool)
        in_run[1:] |= same_next
        in_run[:-1] |= same_next
        candidates = np.sort(order[in_run])
        if candidates.size >= 2:
            c_ts, c_hash = all_ts[candidates], all_hash[candidates]
            c_order = np.lexsort((c_hash, c_ts))  # stable: the first occurrence stays first
            same = (c_ts[c_order[1:]] == c_ts[c_order[:-1]]) & (
                c_hash[c_order[1:]] == c_hash[c_order[:-1]]
            )
            out[candidates[c_order[1:][same]]] = True
        kept = (all_ts >= self.running_max) & ~out
        self.seen_ts, self.seen_hash = all_ts[kept], all_hash[kept]
        return out[all_ts.size - ts.size :]


def first_rules(
    w: Window,
    after: IntArray,
    hashes: np.ndarray,
    carry: Carry,
    cfg: CleaningConfig,
    session_windows: IntArray,
    calendar: str | None,
) -> tuple[Codes, BoolArray]:
    """Rules from the vendor flag to locked quotes (``classify``'s order): reason codes and
    exact repeats kept as possible duplicates. ``after``: the next two rows' times."""
    table, ts, n = w.table, w.ts, w.table.num_rows
    reason = np.zeros(n, dtype=np.int8)
    if table.column("flag").null_count < n:
        _apply(reason, Reason.VENDOR_FLAG, np.asarray(pc.is_valid(table.column("flag")), bool))
    spikes = local_time_spikes(np.concatenate([carry.before, ts, after]))
    _apply(reason, Reason.NON_MONOTONIC_TIME, spikes[carry.before.size : carry.before.size + n])
    carry.before = ts[-2:].copy()
    keep = reason == 0
    kept_ts = ts[keep]
    running = np.maximum.accumulate(np.concatenate([[carry.running_max], kept_ts]))
    later = np.zeros(n, dtype=bool)
    later[keep] = kept_ts < running[:-1]
    _apply(reason, Reason.NON_MONOTONIC_TIME, later)
    carry.running_max = int(running[-1])

    error, possible = duplicate_verdicts(carry.repeats(ts, hashes), table, cfg.duplicate_policy)
    _apply(reason, Reason.DUPLICATE, error)
    is_trade = w.is_trade
    price, size = w.floats["price"][0], w.floats["size"][0]
    bid, ask = w.floats["bid_price"][0], w.floats["ask_price"][0]
    bid_size, ask_size = w.floats["bid_size"][0], w.floats["ask_size"][0]
    non_finite, absurd_value = value_faults(is_trade, w.floats, cfg.max_price, cfg.max_size)
    _apply(reason, Reason.NON_FINITE, non_finite)
    _apply(reason, Reason.ABSURD_VALUE, absurd_value)
    _apply(reason, Reason.MISSING_PRICE, missing_prices(is_trade, price, bid, ask))
    with np.errstate(invalid="ignore"):
        _apply(reason, Reason.NONPOSITIVE_PRICE, nonpositive_prices(is_trade, price, bid, ask))
        _apply(
            reason,
            Reason.NONPOSITIVE_SIZE,
            nonpositive_sizes(is_trade, size, bid_size, ask_size),
        )
    windows = rule_windows(session_windows, calendar, cfg)
    _apply(reason, Reason.OUTSIDE_SESSION, outside_sessions(ts, windows))
    _apply(reason, Reason.INVALID_CONDITION, condition_faults(table, is_trade, cfg))
    is_quote = ~is_trade
    with np.errstate(invalid="ignore"):
        _apply(reason, Reason.CROSSED_QUOTE, is_quote & crossed_quotes(bid, ask))
        _apply(reason, Reason.LOCKED_QUOTE, is_quote & locked_quotes(bid, ask))

    carry.symbols.update(pc.unique(table.column("symbol")).to_pylist())
    receive = np.asarray(pc.fill_null(pc.equal(table.column("clock"), "receive"), False), bool)
    carry.receive_clock |= bool(receive.any())
    carry.exchange_clock |= bool((~receive).any())
    carry.recv_nulls |= table.column("ts_recv").null_count > 0
    return reason, possible


def wide_spread_rule(w: Window, reason: Codes, median: float, cfg: CleaningConfig) -> None:
    """BN-H Q3 with the day's median spread of the valid quotes (``wide_spreads``)."""
    quotes = np.flatnonzero(~w.is_trade & (reason == 0))
    spread = w.ask[quotes] - w.bid[quotes]
    mid = (w.ask[quotes] + w.bid[quotes]) * 0.5
    wide = (spread > cfg.spread_median_multiple * median) & (
        spread > cfg.wide_spread_min_bps * 1e-4 * mid
    )
    reason[quotes[wide]] = _code(Reason.WIDE_SPREAD)


@dataclass
class QuoteCarry:
    """The last valid quote of the windows before (time, bid, ask)."""

    present: bool = False
    ts: int = 0
    bid: float = float("nan")
    ask: float = float("nan")


def judge_by_quotes(w: Window, reason: Codes, carry: QuoteCarry, cfg: CleaningConfig) -> BoolArray:
    """BN-H T4 against the prevailing valid quote (carried across windows); returns the
    trades still clean that had no fresh quote (the rolling-median rule judges those)."""
    n = w.ts.size
    valid = ~w.is_trade & (reason == 0)
    prevailing = np.maximum.accumulate(np.where(valid, np.arange(n), -1)) if n else np.zeros(0)
    idx = prevailing.astype(np.int64) + 1  # 0: the carried quote
    q_ts = np.concatenate([[carry.ts], w.ts])
    q_bid = np.concatenate([[carry.bid], w.bid])
    q_ask = np.concatenate([[carry.ask], w.ask])
    exists = (prevailing >= 0) | carry.present
    has_quote = exists & (w.ts - q_ts[idx] <= ms_to_ns(cfg.max_quote_age_ms))
    fails = trades_outside_quotes(
        w.is_trade, idx, has_quote, w.price, q_bid, q_ask, cfg.trade_band_min_bps
    )
    _apply(reason, Reason.TRADE_OUTSIDE_QUOTES, fails)
    if valid.any():
        last = int(np.flatnonzero(valid)[-1])
        carry.present, carry.ts = True, int(w.ts[last])
        carry.bid, carry.ask = float(w.bid[last]), float(w.ask[last])
    judged: BoolArray = w.is_trade & ~has_quote & (reason == 0)
    return judged
