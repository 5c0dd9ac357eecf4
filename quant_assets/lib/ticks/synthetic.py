"""Seeded synthetic ticks with realistic microstructure and *known* injected bad ticks.

Why: cleaning rules need ground truth. Real files have unknown errors; here every bad row is
planted at a configured rate and returned with its reason code, so precision/recall of the
cleaning stage can be measured exactly. Everything is vectorised (10M rows in a few seconds).

Model (one session, times in ns UTC from the caller, who derives them from the exchange calendar
via :func:`quant_assets.lib.ticks.instruments.session_windows`):

* arrivals: a Cox process ("Hawkes-ish" clustering) whose intensity is a U-shaped intraday
  profile x a bursty gamma factor x the current volatility level; sampled in O(n) from sorted
  uniform order statistics mapped through the inverse cumulative intensity;
* efficient log-price: random walk with stochastic volatility (log-vol Ornstein-Uhlenbeck) plus
  compound-Poisson jumps;
* quotes: tick-rounded bid/ask around the efficient price, spread widening with volatility and
  mean-reverting (OU) around its base, lognormal displayed sizes;
* trades: at the prevailing (last published) quote for market orders, sometimes inside it;
  aggressor side correlated with the next price move; lognormal sizes; sale conditions drawn from
  :data:`VALID_CONDITIONS`.

Bad ticks (one reason per row; reasons are NOT in the canonical table, see
:class:`SyntheticTicks`): see :data:`REASON_CODES`.

Sale conditions: Barndorff-Nielsen, Hansen, Lunde & Shephard (2009, "Realized kernels in
practice", rule P3) keep only TAQ trades with a blank condition or "E"/"F". We keep that spirit
on CTA/UTP codes: "@" (regular sale, the modern blank), "E" (automatic execution, legacy TAQ),
"F" (intermarket sweep) and additionally "I" (odd lot: a regular-way execution reported to the
tape since 2013; deliberately kept so odd lots are not thrown away). Invalid for us: "Z" (sold out
of sequence), "U" (extended hours, sold out of sequence), "T" (Form T, extended hours), "W"
(average price), "C" (cash), "N" (next day), "R" (seller's option), "P" (prior reference price).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quant_assets.lib.ticks.schema import TIMESTAMP, RecordType, conform

SOURCE = "synthetic"

REASON_CODES: tuple[str, ...] = (
    "duplicate",
    "nonpositive_price",
    "nonpositive_size",
    "outside_session",
    "invalid_condition",
    "crossed_quote",
    "locked_quote",
    "wide_spread",
    "price_outlier",
    "trade_outside_quotes",
    "non_monotonic_time",
)
"""Reason codes shared with the cleaning stage; use these exact strings."""

VALID_CONDITIONS: frozenset[str] = frozenset({"@", "E", "F", "I"})
INVALID_CONDITIONS: tuple[str, ...] = ("Z", "U", "T", "W", "C", "N", "R", "P")
_CONDITION_WEIGHTS: dict[str, float] = {"@": 0.86, "F": 0.08, "I": 0.05, "E": 0.01}

_TRADE_ONLY = {
    "nonpositive_price",
    "nonpositive_size",
    "invalid_condition",
    "price_outlier",
    "trade_outside_quotes",
}
_QUOTE_ONLY = {"crossed_quote", "locked_quote", "wide_spread"}
_GRID = 4096  # intensity / volatility / spread state grid over the session


def _default_rates() -> dict[str, float]:
    return dict.fromkeys(REASON_CODES, 1e-4)


class SyntheticConfig(BaseModel):
    """Knobs of the generator; all rates are fractions of emitted rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean_ticks: int = Field(default=50_000, gt=0, description="expected rows per session")
    base_price: float = Field(default=100.0, gt=0)
    volatility: float = Field(
        default=0.02, gt=0, description="session (open->close) log-return stdev"
    )
    vol_of_vol: float = Field(default=0.6, ge=0, description="stdev of log-volatility (stationary)")
    vol_mean_reversion: float = Field(
        default=8.0, gt=0, description="log-vol OU speed, per session"
    )
    jump_intensity: float = Field(default=2.0, ge=0, description="expected price jumps per session")
    jump_size: float = Field(default=0.004, ge=0, description="stdev of a log-price jump")
    tick_size: float = Field(default=0.01, gt=0)
    spread_ticks: float = Field(
        default=2.0, ge=1, description="mean quoted spread in ticks at base vol"
    )
    spread_vol_elasticity: float = Field(
        default=1.0, ge=0, description="spread ~ (vol / base vol)^e"
    )
    max_spread_ticks: int = Field(default=20, ge=1, description="cap for clean spreads")
    quote_trade_ratio: float = Field(default=3.0, gt=0, description="quote rows per trade row")
    inside_trade_prob: float = Field(
        default=0.1, ge=0, le=1, description="trades inside the spread"
    )
    trade_size_median: float = Field(default=100.0, gt=0)
    trade_size_sigma: float = Field(default=1.0, ge=0, description="lognormal sigma of trade sizes")
    quote_size_median: float = Field(default=300.0, gt=0)
    u_shape: float = Field(default=3.0, ge=0, description="open/close intensity vs midday, minus 1")
    burstiness: float = Field(default=0.5, ge=0, description="0 = Poisson; larger = more clustered")
    bad_tick_rates: dict[str, float] = Field(default_factory=_default_rates)
    seed: int = 0
    exchange: str = "SYNTH"

    @field_validator("bad_tick_rates")
    @classmethod
    def _known_reasons(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(REASON_CODES)
        if unknown:
            raise ValueError(f"unknown reason codes {sorted(unknown)}; known: {REASON_CODES}")
        if any(not 0 <= r <= 0.05 for r in v.values()):
            raise ValueError("each bad-tick rate must be within [0, 0.05]")
        return v

    def rate(self, reason: str) -> float:
        return self.bad_tick_rates.get(reason, 0.0)


@dataclass(frozen=True)
class SyntheticTicks:
    """Generated rows in arrival (file) order plus the ground truth for each row.

    ``reasons[i]`` is the injected reason code of row ``i`` or null for a clean row; it is kept
    out of ``table`` so the canonical schema stays vendor-identical. The table is *not* sorted by
    ts_event: ``non_monotonic_time`` rows exist only in arrival order (``sequence`` = arrival)."""

    table: pa.Table
    reasons: pa.Array

    @property
    def is_bad(self) -> npt.NDArray[np.bool_]:
        return np.asarray(pc.is_valid(self.reasons).to_numpy(zero_copy_only=False))

    def counts(self) -> dict[str, int]:
        vc = pc.value_counts(pc.drop_null(self.reasons)).to_pylist()
        return {str(d["values"]): int(d["counts"]) for d in vc}


# ---------------------------------------------------------------------------------- generator


def _rng(config: SyntheticConfig, symbol: str, session_open_ns: int) -> np.random.Generator:
    # crc32, not hash(): Python's str hash is salted per process and would break reproducibility.
    entropy = [config.seed & 0xFFFFFFFF, zlib.crc32(symbol.encode()), session_open_ns & (2**63 - 1)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _ou(rng: np.random.Generator, n: int, speed: float, stdev: float) -> npt.NDArray[np.float64]:
    """Stationary OU path on an n-point grid over one session (exact AR(1) discretisation)."""
    phi = float(np.exp(-speed / n))
    eps = rng.standard_normal(n) * stdev * np.sqrt(1 - phi * phi)
    out = np.empty(n)
    x = rng.standard_normal() * stdev
    for i in range(n):  # n = _GRID: a few thousand steps, not per tick
        x = phi * x + eps[i]
        out[i] = x
    return out


def _constant(value: str, n: int) -> pa.Array:
    """A constant string column built from raw buffers (no per-row objects, two allocations)."""
    raw = value.encode()
    if (n + 1) * len(raw) >= 2**31:
        raise ValueError("constant string column too large for pa.string()")
    if raw:
        offsets = np.arange(0, (n + 1) * len(raw), len(raw), dtype=np.int32)
    else:
        offsets = np.zeros(n + 1, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw * n)]
    )


def _with_nulls(
    values: npt.NDArray[Any], null: npt.NDArray[np.bool_], dtype: pa.DataType
) -> pa.Array:
    """Arrow array with a validity bitmap, without pa.array(mask=...)'s slow path."""
    valid = np.packbits(~null, bitorder="little")
    buffers = [pa.py_buffer(valid), pa.py_buffer(np.ascontiguousarray(values))]
    return pa.Array.from_buffers(dtype, len(values), buffers, null_count=int(null.sum()))


def _pick(
    rng: np.random.Generator,
    free: npt.NDArray[np.bool_],
    ok: npt.NDArray[np.bool_] | None,
    count: int,
) -> npt.NDArray[np.int64]:
    """``count`` random rows that are free (and ``ok``), at least 3 apart; reserves them and
    their +-2 neighbours so every injected row sits in clean context. O(count), not O(n)."""
    n = free.size
    got: list[npt.NDArray[np.int64]] = []
    need = count
    for _ in range(50):
        if need <= 0 or n == 0:
            break
        cand = np.unique(rng.integers(0, n, size=2 * need + 16))
        cand = cand[free[cand] if ok is None else free[cand] & ok[cand]]
        if cand.size > 1:
            cand = cand[np.concatenate([[True], np.diff(cand) >= 3])]
        cand = cand[:need] if cand.size <= need else np.sort(rng.permutation(cand)[:need])
        for shift in (-2, -1, 0, 1, 2):
            free[np.clip(cand + shift, 0, n - 1)] = False
        got.append(cand)
        need -= cand.size
    return np.sort(np.concatenate(got)) if got else np.zeros(0, dtype=np.int64)


@contextmanager
def _no_hugepage_madvise() -> Iterator[None]:
    """numpy madvises large arrays for transparent huge pages; with THP defrag=madvise (common on
    VMs) each first touch then compacts memory and filling a fresh 2 GB costs ~8 s instead of ~2 s.
    The generator is allocation-bound, so the hint is switched off for its duration and restored
    (same effect as NUMPY_MADVISE_HUGEPAGE=0, scoped)."""
    try:
        from numpy._core.multiarray import (  # type: ignore[attr-defined]
            _set_madvise_hugepage,
        )
    except ImportError:  # pragma: no cover - private numpy API moved
        yield
        return
    previous = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(previous)


def generate_ticks(
    symbol: str,
    session_open_ns: int,
    session_close_ns: int,
    config: SyntheticConfig | None = None,
    n_ticks: int | None = None,
) -> SyntheticTicks:
    """Generate one session of ticks for ``symbol``; same (seed, symbol, session) -> same output.

    ``n_ticks`` fixes the number of rows (bad rows included); by default it is drawn from
    Poisson(``mean_ticks``). Prices are computed in integer ticks, then scaled once. Bad rows
    overwrite clean ones in place (duplicates copy their predecessor, outside-session rows are the
    first/last rows re-timed), so no column is ever re-indexed: memory traffic dominates at 10M.
    """
    cfg = config or SyntheticConfig()
    if session_close_ns <= session_open_ns:
        raise ValueError("session_close_ns must be after session_open_ns")
    with _no_hugepage_madvise():
        return _generate(symbol, session_open_ns, session_close_ns, cfg, n_ticks)


def _generate(
    symbol: str,
    session_open_ns: int,
    session_close_ns: int,
    cfg: SyntheticConfig,
    n_ticks: int | None,
) -> SyntheticTicks:
    rng = _rng(cfg, symbol, session_open_ns)
    n = int(n_ticks) if n_ticks is not None else int(rng.poisson(cfg.mean_ticks))
    if n < 0:
        raise ValueError("n_ticks must be >= 0")
    duration = session_close_ns - session_open_ns
    tick = cfg.tick_size
    code_of = {r: i for i, r in enumerate(REASON_CODES)}

    # --- state on a grid: log-vol OU, spread OU, bursty intensity ---------------------------
    grid_u = (np.arange(_GRID) + 0.5) / _GRID
    log_vol = _ou(rng, _GRID, cfg.vol_mean_reversion, cfg.vol_of_vol)
    vol_level = np.exp(log_vol - 0.5 * cfg.vol_of_vol**2)  # mean 1
    spread_grid = cfg.spread_ticks * vol_level**cfg.spread_vol_elasticity
    spread_grid *= np.exp(_ou(rng, _GRID, 20.0, 0.25))
    u_profile = 1.0 + cfg.u_shape * (2.0 * grid_u - 1.0) ** 2
    if cfg.burstiness > 0:
        shape = 1.0 / cfg.burstiness
        bursts = rng.gamma(shape, 1.0 / shape, _GRID)
    else:
        bursts = np.ones(_GRID)
    cum = np.concatenate([[0.0], np.cumsum(u_profile * bursts * np.sqrt(vol_level))])
    cum /= cum[-1]
    edges = np.linspace(0.0, 1.0, _GRID + 1)

    # --- arrival times: sorted uniforms (O(n) via exponential spacings) -> inverse CDF ------
    spacings = np.cumsum(rng.standard_exponential(n + 1, dtype=np.float32), dtype=np.float64)
    u = spacings[:n]
    u /= spacings[n] if n else 1.0
    su = np.interp(u, cum, edges)
    del spacings, u
    cell = (su * _GRID).astype(np.int32)
    np.minimum(cell, _GRID - 1, out=cell)
    ts = (su * float(duration)).astype(np.int64)
    rownum = np.arange(n, dtype=np.int64)
    ts -= rownum  # strictly increasing: max-accumulate of (t_i - i), then add i back
    np.maximum.accumulate(ts, out=ts)
    ts += rownum
    ts += session_open_ns
    np.minimum(ts, session_close_ns - 1, out=ts)

    # --- efficient price (in ticks): stochastic-vol random walk + jumps ---------------------
    incr = np.diff(su, prepend=0.0)
    del su
    np.sqrt(incr, out=incr)
    incr *= np.take(vol_level * cfg.volatility, cell)
    incr *= rng.standard_normal(n, dtype=np.float32)
    n_jumps = int(rng.poisson(cfg.jump_intensity)) if n else 0
    if n_jumps:
        np.add.at(incr, rng.integers(0, n, n_jumps), rng.standard_normal(n_jumps) * cfg.jump_size)
    noise = rng.standard_normal(n, dtype=np.float32)
    noise *= np.float32(0.8 * cfg.volatility / np.sqrt(max(n, 1)))
    noise[:-1] += incr[1:]
    buy = noise > 0  # the aggressor side predicts the next efficient-price move
    del noise
    np.cumsum(incr, out=incr)
    incr += np.log(cfg.base_price / tick)
    mid_t = np.exp(incr, out=incr)  # efficient price in ticks

    # --- quotes (integer ticks) ---------------------------------------------------------------
    spread = np.take(spread_grid, cell)
    del cell
    spread += rng.standard_exponential(n, dtype=np.float32) * np.float32(0.3)
    spread_t = np.rint(spread).astype(np.int64)
    del spread
    np.clip(spread_t, 1, cfg.max_spread_ticks, out=spread_t)
    mid_t -= 0.5 * spread_t
    bid_t = np.floor(mid_t + 1e-9).astype(np.int64)
    del mid_t, incr
    np.maximum(bid_t, 1, out=bid_t)
    ask_t = bid_t + spread_t
    del spread_t

    is_trade = rng.random(n, dtype=np.float32) < 1.0 / (1.0 + cfg.quote_trade_ratio)
    n_out = round(n * cfg.rate("outside_session"))
    n_pre = min(n_out // 2, max(n - 1, 0))
    n_post = min(n_out - n_pre, max(n - n_pre - 1, 0))
    is_trade[: n_pre + 1] = False  # pre-open prints are quotes; the first in-session row too

    # --- choose bad rows (one reason per row, isolated) ---------------------------------------
    reason = np.full(n, -1, dtype=np.int8)
    free = np.ones(n, dtype=bool)
    free[: n_pre + 3] = False
    if n_post:
        free[n - n_post - 2 :] = False
    reason[:n_pre] = code_of["outside_session"]
    if n_post:
        reason[n - n_post :] = code_of["outside_session"]
    is_quote = ~is_trade
    chosen: dict[str, npt.NDArray[np.int64]] = {}
    for name in REASON_CODES:
        if name == "outside_session":
            continue
        ok = is_trade if name in _TRADE_ONLY else is_quote if name in _QUOTE_ONLY else None
        rows = _pick(rng, free, ok, round(n * cfg.rate(name)))
        if name == "duplicate":
            rows = rows[rows > 0]
        reason[rows] = code_of[name]
        chosen[name] = rows

    # Prevailing quote = last *clean* quote at or before the row (what a cleaner that skips bad
    # quotes compares a trade with); pre-open quotes are not clean, so row n_pre anchors it.
    good_quote = is_quote & (reason < 0)
    last_quote = np.where(good_quote, rownum, 0)
    del rownum
    np.maximum.accumulate(last_quote, out=last_quote)
    p_bid = np.take(bid_t, last_quote)
    p_ask = np.take(ask_t, last_quote)
    del last_quote

    # --- trades (integer ticks); per-trade draws only for the ~25% trade rows ---------------
    trades = np.flatnonzero(is_trade)
    price_t = np.where(buy, p_ask, p_bid)
    gap_tr = p_ask[trades] - p_bid[trades]
    inside = (rng.random(trades.size, dtype=np.float32) < cfg.inside_trade_prob) & (gap_tr >= 2)
    rows_in = trades[inside]
    offset = 1 + (rng.random(rows_in.size) * (gap_tr[inside] - 1)).astype(np.int64)
    price_t[rows_in] = p_bid[rows_in] + offset
    del gap_tr, inside
    # One buffer holds trade sizes on trade rows and bid sizes on quote rows: the Arrow columns
    # "size" and "bid_size" share it under complementary validity bitmaps.
    qty = rng.standard_normal(n, dtype=np.float32)
    qty *= np.where(is_trade, np.float32(cfg.trade_size_sigma), np.float32(0.8))
    qty += np.where(
        is_trade,
        np.float32(np.log(cfg.trade_size_median)),
        np.float32(np.log(cfg.quote_size_median)),
    )
    np.exp(qty, out=qty)
    size = np.rint(qty).astype(np.float64)
    del qty
    np.maximum(size, 1.0, out=size)
    ask_qty = rng.standard_normal(n, dtype=np.float32)
    ask_qty *= np.float32(0.8)
    ask_qty += np.float32(np.log(cfg.quote_size_median))
    np.exp(ask_qty, out=ask_qty)
    ask_size = np.rint(ask_qty).astype(np.float64)
    del ask_qty
    np.maximum(ask_size, 1.0, out=ask_size)
    cdf = np.cumsum(list(_CONDITION_WEIGHTS.values()))
    cdf32 = (cdf / cdf[-1]).astype(np.float32)
    cond = np.zeros(n, dtype=np.int8)
    cond[trades] = np.searchsorted(cdf32, rng.random(trades.size, dtype=np.float32))
    np.minimum(cond, len(_CONDITION_WEIGHTS) - 1, out=cond)
    recv_lag = rng.integers(20_000, 2_000_000, n)

    # --- apply the bad values -----------------------------------------------------------------
    for name, rows in chosen.items():
        k = rows.size
        if not k:
            continue
        if name == "nonpositive_price":
            price_t[rows] = np.where(rng.random(k) < 0.5, 0, -price_t[rows])
        elif name == "nonpositive_size":
            size[rows] = np.where(rng.random(k) < 0.5, 0.0, -size[rows])
        elif name == "invalid_condition":
            cond[rows] = len(_CONDITION_WEIGHTS) + rng.integers(0, len(INVALID_CONDITIONS), k)
        elif name == "crossed_quote":
            bid_t[rows], ask_t[rows] = ask_t[rows] + rng.integers(1, 4, k), bid_t[rows]
        elif name == "locked_quote":
            bid_t[rows] = ask_t[rows]
        elif name == "wide_spread":
            # >= 10x the widest clean spread: beyond "50 x median spread" even in volatile spells
            half = (cfg.max_spread_ticks * rng.uniform(5, 10, k)).astype(np.int64)
            centre = (ask_t[rows] + bid_t[rows]) // 2
            bid_t[rows] = np.maximum(centre - half, 1)
            ask_t[rows] = centre + half
        elif name == "price_outlier":
            factor = 1 + rng.choice([-1.0, 1.0], k) * rng.uniform(0.05, 0.15, k)
            price_t[rows] = np.rint(price_t[rows] * factor).astype(np.int64)
        elif name == "trade_outside_quotes":
            away = np.ceil(rng.uniform(2.0, 5.0, k) * (p_ask[rows] - p_bid[rows])).astype(np.int64)
            price_t[rows] = np.where(buy[rows], p_ask[rows] + away, p_bid[rows] - away)
        elif name == "non_monotonic_time":
            back = rng.integers(1_000_000, 1_000_000_000, k)  # 1 ms .. 1 s before the previous row
            ts[rows] = np.maximum(ts[rows - 1] - back, session_open_ns)
        elif name == "duplicate":  # an exact re-send of the previous row
            src = rows - 1
            for arr in (ts, recv_lag, price_t, size, bid_t, ask_t, ask_size, cond):
                arr[rows] = arr[src]
            for flags in (is_trade, buy):
                flags[rows] = flags[src]
    del p_bid, p_ask

    # --- outside-session rows: re-time the first/last rows before the open / after the close --
    if n_pre:
        ts[:n_pre] = (
            session_open_ns - np.sort(rng.integers(1_000_000_000, 3_600_000_000_000, n_pre))[::-1]
        )
    if n_post:
        ts[n - n_post :] = session_close_ns + np.sort(
            rng.integers(1_000_000_000, 3_600_000_000_000, n_post)
        )

    # --- assemble Arrow columns (validity bitmaps, no per-row Python objects) ----------------
    is_quote = ~is_trade
    is_copy = reason == code_of["duplicate"]
    sequence = np.cumsum(~is_copy, dtype=np.int64)
    recv_lag += ts
    price = price_t * tick
    del price_t
    bid = bid_t * tick
    ask = ask_t * tick
    del bid_t, ask_t
    side_idx = _with_nulls(np.where(buy, 0, 1).astype(np.int8), is_quote, pa.int8())
    cond_idx = _with_nulls(cond, is_quote, pa.int8())
    table = pa.table(
        {
            "ts_event": pa.array(ts, TIMESTAMP),
            "ts_recv": pa.array(recv_lag, TIMESTAMP),
            "symbol": _constant(symbol, n),
            "record_type": pc.take(
                pa.array([RecordType.QUOTE.value, RecordType.TRADE.value]), is_trade.view(np.uint8)
            ),
            "price": _with_nulls(price, is_quote, pa.float64()),
            "size": _with_nulls(size, is_quote, pa.float64()),
            "side": pc.take(pa.array(["B", "S"]), side_idx),
            "bid_price": _with_nulls(bid, is_trade, pa.float64()),
            "bid_size": _with_nulls(size, is_trade, pa.float64()),
            "ask_price": _with_nulls(ask, is_trade, pa.float64()),
            "ask_size": _with_nulls(ask_size, is_trade, pa.float64()),
            "exchange": _constant(cfg.exchange, n),
            "conditions": pc.take(pa.array([*_CONDITION_WEIGHTS, *INVALID_CONDITIONS]), cond_idx),
            "sequence": pa.array(sequence),
            "source": _constant(SOURCE, n),
        }
    )
    reasons = pc.take(
        pa.array(list(REASON_CODES), pa.string()),
        _with_nulls(reason, reason < 0, pa.int8()),
    )
    return SyntheticTicks(table=conform(table), reasons=reasons)
