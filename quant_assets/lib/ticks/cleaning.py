"""Tick cleaning rules after Barndorff-Nielsen, Hansen, Lunde & Shephard (2009).

Every rule is a vectorised function over numpy arrays returning a boolean "fails" mask; no
per-row Python. :func:`clean_ticks` applies them in a fixed order and gives each removed row
the reason of the first rule it fails, so raw rows = clean rows + quarantined rows holds by
construction. Statistics a rule needs (the day's median spread, rolling medians) are computed
over the rows that survived the earlier rules, so one bad tick cannot shield another.
The rules, thresholds and deviations from the paper are written down in docs/cleaning_rules.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.clean_config import (
    REASONS,
    CleaningConfig,
    CleaningResult,
    Reason,
)
from quant_assets.lib.ticks.clean_rules import (
    BoolArray,
    FloatArray,
    IntArray,
    behind_running_max,
    centred_rolling_median,
    crossed_quotes,
    exact_duplicates,
    invalid_conditions,
    local_time_spikes,
    locked_quotes,
    merge_order_key,
    missing_prices,
    ms_to_ns,
    nonpositive_prices,
    nonpositive_sizes,
    outside_sessions,
    prevailing_quotes,
    rolling_outliers,
    trades_outside_quotes,
    wide_spreads,
)
from quant_assets.lib.ticks.row_hash import mix_column, row_hashes, stable_hash64
from quant_assets.lib.ticks.schema import RecordType
from quant_assets.lib.ticks.vendor_rules import (
    FLOAT_SIDES,
    contiguous,
    duplicate_verdicts,
    infer_tick_size,
    matching_times,
    nonfinite,
    value_faults,
)

__all__ = [  # the rules and types live in clean_rules / clean_config; re-exported here
    "REASONS",
    "Classification",
    "CleaningConfig",
    "CleaningResult",
    "Reason",
    "behind_running_max",
    "centred_rolling_median",
    "classify",
    "classify_ticks",
    "clean_ticks",
    "exact_duplicates",
    "infer_tick_size",
    "invalid_conditions",
    "local_time_spikes",
    "merge_order_key",
    "mix_column",
    "outside_sessions",
    "prevailing_quotes",
    "rolling_outliers",
    "row_hashes",
    "stable_hash64",
    "trades_outside_quotes",
    "wide_spreads",
]


def _floats(table: pa.Table, name: str) -> FloatArray:
    """A float64 column as numpy with NaN for nulls (see :func:`_floats_valid`)."""
    return _floats_valid(table, name)[0]


def _floats_valid(table: pa.Table, name: str) -> tuple[FloatArray, BoolArray]:
    """A float64 column as numpy with NaN for nulls, and its non-finite present values.

    Reads the Arrow value buffer in place and masks it with the unpacked validity bitmap:
    ~6x faster than Arrow's own null-to-NaN conversion on half-null tick columns.
    """
    col = contiguous(table.column(name)).cast(pa.float64())
    n, offset = len(col), col.offset
    validity, data = col.buffers()
    values = np.frombuffer(data, dtype=np.float64, count=offset + n)[offset:]
    if col.null_count == 0 or validity is None:
        # A finite sum proves every value finite (one pass, no allocation); else look closer.
        if math.isfinite(float(np.sum(values))):
            return values, np.zeros(n, dtype=bool)
        return values, ~np.isfinite(values)
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), count=offset + n, bitorder="little")
    valid = bits[offset:].view(bool)
    with_nan = np.where(valid, values, np.nan)
    if math.isfinite(float(np.sum(values))):  # null slots included: finite proves all finite
        return with_nan, np.zeros(n, dtype=bool)
    return with_nan, nonfinite(values, valid)


def extended_windows(windows: IntArray, extension_minutes: tuple[int, int]) -> IntArray:
    pre, post = extension_minutes
    out = windows.copy()
    out[:, 0] -= pre * 60_000_000_000
    out[:, 1] += post * 60_000_000_000
    return out


def rule_windows(windows: IntArray, calendar: str | None, cfg: CleaningConfig) -> IntArray:
    """The session windows the outside-session rule uses: extended where configured."""
    if calendar is not None and calendar in cfg.session_extension_minutes:
        return extended_windows(windows, cfg.session_extension_minutes[calendar])
    return windows


def condition_faults(table: pa.Table, is_trade: BoolArray, cfg: CleaningConfig) -> BoolArray:
    """Trades whose sale-condition codes are not valid for their source (per-source tables)."""
    faults = np.zeros(table.num_rows, dtype=bool)
    if not cfg.valid_conditions:
        return faults
    conditions = contiguous(table.column("conditions"))
    source = contiguous(table.column("source"))
    for name, valid in cfg.valid_conditions.items():
        of_source = np.asarray(pc.fill_null(pc.equal(source, name), False), dtype=bool)
        if of_source.any():
            faults |= is_trade & of_source & invalid_conditions(conditions, valid)
    return faults


@dataclass(frozen=True)
class Classification:
    """Reason code per row (0 = clean, k = ``REASONS[k - 1]``) and what the rules measured."""

    reason: npt.NDArray[np.int8]
    possible_duplicates: BoolArray
    tick_size: float | None


def _prevailing_like_clocks(
    table: pa.Table, ts: IntArray, is_trade: BoolArray, valid_quote: BoolArray, max_age: int
) -> tuple[IntArray, BoolArray]:
    recv = matching_times(table, is_trade)
    if recv is None:
        return prevailing_quotes(valid_quote, ts, max_age)
    order = np.argsort(recv, kind="stable")
    idx, fresh = prevailing_quotes(valid_quote[order], recv[order], max_age)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return order[idx][inverse], fresh[inverse]


def _tick_floor(
    table: pa.Table, cfg: CleaningConfig, prices: tuple[FloatArray, ...]
) -> float | None:
    symbols = pc.unique(table.column("symbol")).to_pylist() if table.num_rows else []
    configured = [cfg.tick_sizes[s] for s in symbols if s in cfg.tick_sizes]
    if configured:
        return float(min(configured))
    return infer_tick_size(np.concatenate(prices)) if table.num_rows else None


def classify_ticks(
    table: pa.Table,
    session_windows: IntArray,
    config: CleaningConfig | None = None,
    calendar: str | None = None,
) -> npt.NDArray[np.int8]:
    """Reason code of every row: 0 = clean, k = ``REASONS[k - 1]`` (the first rule it fails)."""
    return classify(table, session_windows, config, calendar).reason


def classify(
    table: pa.Table,
    session_windows: IntArray,
    config: CleaningConfig | None = None,
    calendar: str | None = None,
) -> Classification:
    """Every rule over one partition, in order (see the module docstring)."""
    cfg = (config or CleaningConfig()).for_calendar(calendar)
    n = table.num_rows
    reason = np.zeros(n, dtype=np.int8)  # 0 = clean, k = REASONS[k - 1]

    def apply(rule: Reason, fails: BoolArray) -> None:
        reason[(reason == 0) & fails] = REASONS.index(rule) + 1

    ts = contiguous(table.column("ts_event")).cast(pa.int64()).to_numpy()
    is_trade = pc.equal(table.column("record_type"), RecordType.TRADE.value)
    is_trade = np.asarray(pc.fill_null(is_trade, False).to_numpy(), dtype=bool)
    floats = {name: _floats_valid(table, name) for name in FLOAT_SIDES}
    price, size = floats["price"][0], floats["size"][0]
    bid, ask = floats["bid_price"][0], floats["ask_price"][0]
    bid_size, ask_size = floats["bid_size"][0], floats["ask_size"][0]

    if "flag" in table.column_names and table.column("flag").null_count < n:
        apply(Reason.VENDOR_FLAG, np.asarray(pc.is_valid(table.column("flag")), dtype=bool))

    apply(Reason.NON_MONOTONIC_TIME, local_time_spikes(ts))
    keep = reason == 0
    later = np.zeros(n, dtype=bool)
    later[keep] = behind_running_max(ts[keep])
    apply(Reason.NON_MONOTONIC_TIME, later)

    error, possible = duplicate_verdicts(exact_duplicates(table, ts), table, cfg.duplicate_policy)
    apply(Reason.DUPLICATE, error)
    non_finite, absurd_value = value_faults(is_trade, floats, cfg.max_price, cfg.max_size)
    apply(Reason.NON_FINITE, non_finite)
    apply(Reason.ABSURD_VALUE, absurd_value)
    apply(Reason.MISSING_PRICE, missing_prices(is_trade, price, bid, ask))
    with np.errstate(invalid="ignore"):
        apply(Reason.NONPOSITIVE_PRICE, nonpositive_prices(is_trade, price, bid, ask))
        apply(Reason.NONPOSITIVE_SIZE, nonpositive_sizes(is_trade, size, bid_size, ask_size))
    apply(
        Reason.OUTSIDE_SESSION, outside_sessions(ts, rule_windows(session_windows, calendar, cfg))
    )
    apply(Reason.INVALID_CONDITION, condition_faults(table, is_trade, cfg))

    is_quote = ~is_trade
    with np.errstate(invalid="ignore"):
        apply(Reason.CROSSED_QUOTE, is_quote & crossed_quotes(bid, ask))
        apply(Reason.LOCKED_QUOTE, is_quote & locked_quotes(bid, ask))

    quotes = np.flatnonzero(is_quote & (reason == 0))
    wide = np.zeros(n, dtype=bool)
    wide[quotes] = wide_spreads(
        ask[quotes] - bid[quotes],
        (ask[quotes] + bid[quotes]) * 0.5,
        cfg.spread_median_multiple,
        cfg.wide_spread_min_bps,
    )
    apply(Reason.WIDE_SPREAD, wide)

    clean_trades = is_trade & (reason == 0)
    quotes = np.flatnonzero(is_quote & (reason == 0))
    tick = _tick_floor(table, cfg, (price[clean_trades], bid[quotes], ask[quotes]))
    min_abs = cfg.outlier_min_ticks * tick if tick else 0.0

    # BN-H judge quotes by the rolling-median rule (Q4) and trades by the prevailing quote
    # (T4). Quote outliers go first so a bad mid never serves as a prevailing quote; trades
    # with no fresh quote to compare with fall back to the rolling-median rule.
    outlier = np.zeros(n, dtype=bool)
    outlier[quotes] = rolling_outliers(
        (bid[quotes] + ask[quotes]) * 0.5,
        cfg.outlier_window,
        cfg.outlier_mads,
        cfg.min_outlier_observations,
        cfg.outlier_min_bps,
        min_abs,
    )
    apply(Reason.PRICE_OUTLIER, outlier)

    quote_idx, has_quote = _prevailing_like_clocks(
        table, ts, is_trade, is_quote & (reason == 0), ms_to_ns(cfg.max_quote_age_ms)
    )
    apply(
        Reason.TRADE_OUTSIDE_QUOTES,
        trades_outside_quotes(
            is_trade, quote_idx, has_quote, price, bid, ask, cfg.trade_band_min_bps
        ),
    )

    trades = np.flatnonzero(is_trade & ~has_quote & (reason == 0))
    outlier = np.zeros(n, dtype=bool)
    outlier[trades] = rolling_outliers(
        price[trades],
        cfg.outlier_window,
        cfg.outlier_mads,
        cfg.min_outlier_observations,
        cfg.outlier_min_bps,
        min_abs,
    )
    apply(Reason.PRICE_OUTLIER, outlier)

    return Classification(reason, possible & (reason == 0), tick)


def clean_ticks(
    table: pa.Table,
    session_windows: IntArray,
    config: CleaningConfig | None = None,
    calendar: str | None = None,
) -> CleaningResult:
    """Split a canonical tick table (in arrival order) into clean rows and quarantined rows."""
    verdict = classify(table, session_windows, config, calendar)
    reason = verdict.reason
    clean_mask = reason == 0
    counts = np.bincount(reason, minlength=len(REASONS) + 1)
    reason_counts = {
        r.value: int(counts[i + 1]) for i, r in enumerate(REASONS) if r is not Reason.VENDOR_FLAG
    }
    bad = np.flatnonzero(~clean_mask)
    quarantine = table.take(bad)
    labels = pa.array(
        np.array([r.value for r in REASONS], dtype=object)[reason[bad] - 1], type=pa.string()
    )
    flagged = reason[bad] == REASONS.index(Reason.VENDOR_FLAG) + 1
    if flagged.any():  # the mapping's reason for the flag, e.g. vendor_correction
        labels = pc.if_else(pa.array(flagged), quarantine.column("flag").combine_chunks(), labels)
        flag_counts = pc.value_counts(pc.filter(labels, pa.array(flagged))).to_pylist()
        reason_counts.update({c["values"]: int(c["counts"]) for c in flag_counts})
    quarantine = quarantine.append_column("reason", labels)
    return CleaningResult(
        # take() with indices: a boolean filter over many small chunks is ~5x slower
        clean=table.take(np.flatnonzero(clean_mask)),
        quarantine=quarantine,
        reason_counts=reason_counts,
        possible_duplicates=int(verdict.possible_duplicates.sum()),
        tick_size=verdict.tick_size,
        codes=reason,
    )
