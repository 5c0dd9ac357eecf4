"""Time bars from canonical ticks (``quant_assets.lib.ticks.schema``), fully vectorised.

Conventions (chosen so that nothing in a bar is unknowable at the bar's timestamp):

* Bins are epoch-aligned, left-closed ``[start, end)``; a bar is stamped with its **end** time,
  so every tick it contains happened strictly before ``ts``.
* Trades give open/high/low/close, volume, VWAP and trade count.
* Quotes (valid when ``0 < bid <= ask``) give the mean absolute spread over the bar.
* A bar with quotes but no trades takes the **last mid** of that bar as its flat OHLC/VWAP (the
  latest tradable price known at ``ts``) with zero volume; mids are never used when trades exist.
* A bar without quotes carries the previous bar's spread and mid forward (the book persisted);
  before the first quote the spread is ``fallback_spread_bps`` of the close, the mid is the close
  and ``quoted`` is False there, so consumers can tell a measured spread from a placeholder.
* ``mid`` is the last quote mid known at ``ts``: the price the env marks to and fills around, free
  of the bid/ask bounce that the last trade (``close``) carries.
* Bins with no ticks at all are skipped (no flat bars overnight) unless ``fill_gaps=True``, which
  emits them with the previous close carried forward and zero volume.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from quant_assets.lib.costs import CalibratedParams, CostModelConfig, calibrate
from quant_assets.lib.ticks.schema import RecordType

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Bars:
    """Equal-length numpy arrays, one entry per bar; ``ts`` is the bar end, int64 ns UTC."""

    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    vwap: FloatArray
    spread: FloatArray  # absolute (price units)
    n_trades: IntArray
    symbol: str = ""
    bar_seconds: float = 60.0
    mid: FloatArray | None = None  # last quote mid at ts; None: the close (no quotes known)
    quoted: NDArray[np.bool_] | None = None  # spread measured from quotes; None: all True
    calendar: str = ""  # exchange_calendars name; "" = the symbol's instrument calendar

    def __post_init__(self) -> None:
        n = self.ts.shape[0]
        if self.mid is None:
            object.__setattr__(self, "mid", np.array(self.close, dtype=np.float64))
        if self.quoted is None:
            object.__setattr__(self, "quoted", np.ones(n, dtype=bool))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                if value.shape != (n,):
                    raise ValueError(f"Bars.{f.name}: shape {value.shape}, expected ({n},)")
                value.setflags(write=False)  # frozen means frozen: arrays are shared by envs
        if n > 1 and not np.all(np.diff(self.ts) > 0):
            raise ValueError("Bars.ts must be strictly increasing")
        if n and not np.all(self.close > 0):
            raise ValueError("Bars.close must be > 0")

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice(self, start: int, stop: int) -> Bars:
        """Bars ``[start, stop)`` (e.g. a train/test split)."""
        arrays = {
            f.name: getattr(self, f.name)[start:stop].copy()
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return Bars(
            **arrays, symbol=self.symbol, bar_seconds=self.bar_seconds, calendar=self.calendar
        )

    @property
    def marks(self) -> FloatArray:
        """The mid (never None after construction)."""
        assert self.mid is not None
        return self.mid


def interval_ns(interval: str) -> int:
    """'1min', '5s', '100ms', '1h' -> nanoseconds."""
    ns = int(pd.Timedelta(interval).value)
    if ns <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    return ns


def _ffill_index(valid: NDArray[np.bool_]) -> IntArray:
    """Index of the last valid position at or before each position (-1 if none yet)."""
    idx = np.where(valid, np.arange(valid.shape[0]), -1)
    return np.maximum.accumulate(idx) if idx.size else idx.astype(np.int64)


def _group_starts(keys: IntArray) -> IntArray:
    if keys.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).astype(np.int64)


def _col(table: pa.Table, name: str) -> FloatArray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class TickBins:
    """Per-bin aggregates of one symbol's ticks before anything is carried between bins: the
    part of :func:`build_time_bars` that only needs the ticks of its own bin, so it can be
    computed one session at a time and concatenated (:func:`concat_bins`)."""

    bins: IntArray  # epoch bin numbers (ts // step), strictly increasing
    open: FloatArray  # NaN: no trade in the bin
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    vwap: FloatArray
    n_trades: IntArray
    spread: FloatArray  # mean quoted spread; NaN: no quote in the bin
    mid_last: FloatArray  # last quote mid; NaN: no quote in the bin


def bin_ticks(ticks: pa.Table, step: int) -> TickBins:
    """Aggregate one symbol's ticks into ``step``-ns bins (see :class:`TickBins`)."""
    ts_all = ticks.column("ts_event").cast(pa.int64()).to_numpy(zero_copy_only=False)
    order = np.argsort(ts_all, kind="stable")
    ts_all = ts_all[order]
    rtype = ticks.column("record_type")

    price, size = _col(ticks, "price")[order], _col(ticks, "size")[order]
    is_trade = np.asarray(pc.equal(rtype, RecordType.TRADE.value).to_numpy(zero_copy_only=False))
    is_trade = is_trade[order] & np.isfinite(price) & (price > 0) & np.isfinite(size) & (size > 0)
    bid, ask = _col(ticks, "bid_price")[order], _col(ticks, "ask_price")[order]
    is_quote = np.asarray(pc.equal(rtype, RecordType.QUOTE.value).to_numpy(zero_copy_only=False))
    is_quote = is_quote[order] & np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)

    t_bin = ts_all[is_trade] // step
    q_bin = ts_all[is_quote] // step
    bins = np.unique(np.concatenate([t_bin, q_bin]))
    n = bins.size

    close = np.full(n, np.nan)
    open_, high, low = close.copy(), close.copy(), close.copy()
    volume = np.zeros(n)
    vwap = np.full(n, np.nan)
    n_trades = np.zeros(n, dtype=np.int64)
    spread = np.full(n, np.nan)
    mid_last = np.full(n, np.nan)

    if t_bin.size:
        p, s = price[is_trade], size[is_trade]
        starts = _group_starts(t_bin)
        ends = np.r_[starts[1:], t_bin.size]
        pos = np.searchsorted(bins, t_bin[starts])
        open_[pos] = p[starts]
        close[pos] = p[ends - 1]
        high[pos] = np.maximum.reduceat(p, starts)
        low[pos] = np.minimum.reduceat(p, starts)
        volume[pos] = np.add.reduceat(s, starts)
        vwap[pos] = np.add.reduceat(p * s, starts) / volume[pos]
        n_trades[pos] = ends - starts
    if q_bin.size:
        b, a = bid[is_quote], ask[is_quote]
        starts = _group_starts(q_bin)
        ends = np.r_[starts[1:], q_bin.size]
        pos = np.searchsorted(bins, q_bin[starts])
        spread[pos] = np.add.reduceat(a - b, starts) / (ends - starts)
        mid_last[pos] = 0.5 * (a[ends - 1] + b[ends - 1])
    return TickBins(bins, open_, high, low, close, volume, vwap, n_trades, spread, mid_last)


def concat_bins(parts: list[TickBins]) -> TickBins:
    """Bins of consecutive, non-overlapping sessions as one series; raises ValueError when two
    parts share or reorder a bin (then the ticks must be binned together)."""
    arrays: dict[str, Any] = {
        f.name: (
            np.concatenate([getattr(p, f.name) for p in parts])
            if parts
            else np.zeros(0, np.int64 if f.name in ("bins", "n_trades") else np.float64)
        )
        for f in fields(TickBins)
    }
    if arrays["bins"].size > 1 and not np.all(np.diff(arrays["bins"]) > 0):
        raise ValueError("bins of the parts overlap or are out of order")
    return TickBins(**arrays)


def build_time_bars(
    ticks: pa.Table,
    interval: str = "1min",
    *,
    symbol: str | None = None,
    fallback_spread_bps: float = 1.0,
    fill_gaps: bool = False,
) -> Bars:
    """Aggregate one symbol's clean ticks (canonical schema) into time bars; see module doc."""
    if fallback_spread_bps < 0:
        raise ValueError(f"fallback_spread_bps must be >= 0, got {fallback_spread_bps}")
    step = interval_ns(interval)
    if symbol is not None:
        ticks = ticks.filter(pc.equal(ticks.column("symbol"), symbol))
    symbols = pc.unique(ticks.column("symbol")).to_pylist()
    if len(symbols) > 1:
        raise ValueError(f"ticks hold several symbols {symbols[:5]}; pass symbol=")
    sym = symbol if symbol is not None else (symbols[0] if symbols else "")
    return finish_bars(
        bin_ticks(ticks, step),
        step,
        symbol=sym,
        fallback_spread_bps=fallback_spread_bps,
        fill_gaps=fill_gaps,
    )


def finish_bars(
    tb: TickBins,
    step: int,
    *,
    symbol: str = "",
    fallback_spread_bps: float = 1.0,
    fill_gaps: bool = False,
) -> Bars:
    """Bars from bin aggregates: flat bars from mids, spread and mid carried forward (the
    module doc's conventions)."""
    bins = tb.bins
    close, open_, high, low = tb.close.copy(), tb.open.copy(), tb.high.copy(), tb.low.copy()
    volume, vwap, n_trades = tb.volume.copy(), tb.vwap.copy(), tb.n_trades.copy()
    spread, mid_last = tb.spread.copy(), tb.mid_last.copy()
    if bins.size and fill_gaps:
        full = np.arange(bins[0], bins[-1] + 1, dtype=np.int64)
        pos = np.searchsorted(full, bins)

        def widen(a: FloatArray, empty: float) -> FloatArray:
            out = np.full(full.size, empty)
            out[pos] = a
            return out

        close, open_, high, low = (widen(a, np.nan) for a in (close, open_, high, low))
        vwap, spread, mid_last = (widen(a, np.nan) for a in (vwap, spread, mid_last))
        volume = widen(volume, 0.0)
        counts = np.zeros(full.size, dtype=np.int64)
        counts[pos] = n_trades
        n_trades = counts
        bins = full

    has_trade = n_trades > 0
    no_trade_mid = ~has_trade & np.isfinite(mid_last)
    close[no_trade_mid] = mid_last[no_trade_mid]
    # Bins with neither (only with fill_gaps): previous close carried forward.
    last = _ffill_index(np.isfinite(close))
    close = np.where(last >= 0, close[np.maximum(last, 0)], np.nan)
    flat = ~has_trade
    open_[flat] = high[flat] = low[flat] = vwap[flat] = close[flat]

    last_q = _ffill_index(np.isfinite(spread))
    quoted = last_q >= 0
    spread = np.where(quoted, spread[np.maximum(last_q, 0)], fallback_spread_bps * 1e-4 * close)
    last_m = _ffill_index(np.isfinite(mid_last))
    mid = np.where(last_m >= 0, mid_last[np.maximum(last_m, 0)], close)

    keep = np.isfinite(close)  # leading fill_gaps bins cannot occur; guard anyway
    return Bars(
        ts=((bins + 1) * step)[keep].astype(np.int64),
        open=open_[keep],
        high=high[keep],
        low=low[keep],
        close=close[keep],
        volume=volume[keep],
        vwap=vwap[keep],
        spread=spread[keep],
        n_trades=n_trades[keep],
        symbol=symbol,
        bar_seconds=step / 1e9,
        mid=mid[keep],
        quoted=quoted[keep],
    )


def random_walk_bars(
    n: int,
    *,
    seed: int = 0,
    price0: float = 100.0,
    daily_vol: float = 0.02,
    bar_seconds: float = 60.0,
    session_seconds: float = 23_400.0,
    mean_volume: float = 20_000.0,
    spread_bps: float = 2.0,
    symbol: str = "SYN",
    start_ns: int = 1_704_205_800_000_000_000,  # 2024-01-02 14:30 UTC (09:30 New York)
    bounce: bool = False,
    calendar: str = "",
) -> Bars:
    """Synthetic geometric-random-walk bars for tests and benchmarks (no market data needed).

    The walk is the mid. With ``bounce`` every trade price (open, close) sits at the bid or the
    ask of the bar's spread at random — the bid/ask bounce of real trade prints; otherwise
    trades print at the mid.
    """
    rng = np.random.default_rng(seed)
    sigma_bar = daily_vol * np.sqrt(bar_seconds / session_seconds)
    log_p = np.log(price0) + np.cumsum(rng.normal(0.0, sigma_bar, n))
    mid = np.exp(log_p)
    close = mid
    open_ = np.r_[price0, mid[:-1]]
    wiggle = np.abs(rng.normal(0.0, sigma_bar / 2, n))
    high = np.maximum(open_, close) * (1 + wiggle)
    low = np.minimum(open_, close) * (1 - wiggle)
    volume = rng.gamma(2.0, mean_volume / 2.0, n).round()
    spread = mid * spread_bps * 1e-4 * rng.uniform(0.5, 1.5, n)
    if bounce:
        close = mid + 0.5 * spread * rng.choice([-1.0, 1.0], n)
        open_ = open_ + 0.5 * spread * rng.choice([-1.0, 1.0], n)
        high, low = (
            np.maximum(high, np.maximum(open_, close)),
            np.minimum(low, np.minimum(open_, close)),
        )
    step = int(bar_seconds * 1e9)
    return Bars(
        ts=start_ns + step * np.arange(1, n + 1, dtype=np.int64),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        vwap=(open_ + close + high + low) / 4,
        spread=spread,
        n_trades=np.maximum(volume // 100, 1).astype(np.int64),
        symbol=symbol,
        bar_seconds=bar_seconds,
        mid=mid,
        calendar=calendar,
    )


def calibrate_bars(bars: Bars, config: CostModelConfig | None = None) -> CalibratedParams:
    """The cost model calibrated on these bars (spread, volatility, ADV, volume profile)."""
    return calibrate(
        bars.close,
        bars.volume,
        bars.spread,
        ts=bars.ts,
        symbol=bars.symbol,
        bar_seconds=bars.bar_seconds,
        config=config,
        mid=bars.mid,
        quoted=bars.quoted,
        calendar=bars.calendar,
    )
