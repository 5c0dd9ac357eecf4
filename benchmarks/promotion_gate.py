"""Promotion gate calibration and power (quant_assets.lib.evaluation.promotion.decide).

Run (one process, niced; every cell prints as it finishes)::

    nice -n 19 .venv/bin/python benchmarks/promotion_gate.py            # every cell, 2,000 trials
    nice -n 19 .venv/bin/python benchmarks/promotion_gate.py --trials 200   # a quick, noisier look
    .venv/bin/python benchmarks/promotion_gate.py --only direct --sizes 12480

Simulations, each at the evidence sizes given (bars of paired evidence, 390 bars a session):

* **direct**: per-bar returns drawn directly. Null: challenger and champion i.i.d. Student-t(4)
  returns with GARCH(1,1)-like volatility clustering (identical distributions, no edge). Edge:
  the challenger's mean is raised by 0.5 standard deviations of the per-session excess return
  (``0.5 * sd_bar * sqrt(bars_per_session)`` per session): the 0.5-sd edge of the power target.
* **market**: synthetic bars through the real env with full costs (``TradingEnv`` via
  ``evaluate_policy``). Null ``held`` (default): a random walk, challenger and champion two
  independent skill-free policies that hold random positions (long, short or flat) for geometric
  spells of mean ``--hold`` bars. Null ``churn``: two seeds of ``matched_null`` without a
  challenger (it alternates long/short every bar, the old benchmark's null). Edge: bars whose
  returns are AR(1) with coefficient ``--phi`` (a planted, learnable momentum), the challenger
  trades the sign of the last return, the champion is flat.
* **drift**: the retrain trigger's one-sided t-test (``retrain.drift_test``) on per-episode PnL of
  a champion with no drift (mean 0, Student-t(4) episodes: false alarms) and with a drift of
  -0.5 sd per episode (power).

Figures per cell: false promotion rate of the raw test at p <= alpha (calibration, target <=
alpha + 1 pp), of the gate for the first challenger (alpha_1 = alpha * 6/pi^2), the chance that
any of 10 successive no-edge challengers is promoted (target <= alpha), power at alpha_1, and the
mean block length. Margin 0 and no minimum evidence (``min_sessions=0``), so every size is tested
(a positive margin only lowers both rates); the deployed gate refuses below 32 sessions.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time

# One BLAS thread: arch's optimal_block_length is a loop of small dot products, ~90x slower with
# OpenBLAS threads spinning on a busy machine (0.54 s vs 6 ms at 12,480 bars).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from numba import njit

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.evaluation.episodes import evaluate_policy, to_series
from quant_assets.lib.evaluation.promotion import GateConfig, decide, spent_alpha
from quant_assets.lib.evaluation.retrain import drift_test
from quant_assets.lib.evaluation.statistics import ReturnSeries
from quant_assets.lib.trading.bars import Bars, random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig

BARS_PER_SESSION = 390.0
NS = 60_000_000_000


def series(name: str, returns: np.ndarray) -> ReturnSeries:
    n = returns.size
    return ReturnSeries(
        policy=name,
        ts=np.arange(1, n + 1, dtype=np.int64) * NS,
        returns=returns,
        fold=np.zeros(n, np.int64),
        capital=1.0,
        traded_notional=0.0,
    )


@njit(cache=True)  # type: ignore[misc]
def _garch(z: np.ndarray) -> np.ndarray:
    out = np.empty(z.size)
    h = 1.0
    for t in range(z.size):
        out[t] = math.sqrt(h) * z[t]
        h = 0.05 + 0.05 * out[t] ** 2 + 0.9 * h
    return out


def garch_t(rng: np.random.Generator, n: int, sd: float = 1e-4) -> np.ndarray:
    """Student-t(4) innovations with GARCH(1,1) variance (0.05, 0.9), scaled to ``sd``."""
    z = rng.standard_t(4, n) / math.sqrt(2.0)
    return np.asarray(sd * _garch(z) / math.sqrt(0.05 / (1 - 0.95)))


def p_value(
    ch: ReturnSeries, ref: ReturnSeries | None, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """``(p, block length, t * sqrt(bars per session / n))``: the gate's p-value (margin 0, no
    minimum evidence), its block length and the excess return in sd per session."""
    cfg = GateConfig(
        margin_bps_per_session=0.0, min_bars=2, min_sessions=0, n_boot=n_boot, seed=seed
    )
    d = decide(ch, ref, config=cfg, bars_per_session=BARS_PER_SESSION)
    return d.p_value, d.block_length_bars, d.t_stat * math.sqrt(BARS_PER_SESSION / d.n_bars)


def direct_trial(
    rng: np.random.Generator, n: int, edge: bool, n_boot: int
) -> tuple[float, float, float]:
    a, b = garch_t(rng, n), garch_t(rng, n)
    if edge:
        sd_excess = float(np.std(a - b))
        a = a + 0.5 * sd_excess / math.sqrt(BARS_PER_SESSION)
    return p_value(series("ch", a), series("ref", b), n_boot, int(rng.integers(1 << 31)))


@functools.lru_cache(maxsize=1)
def _full_session_opens() -> np.ndarray:
    import exchange_calendars as xcals

    sched = xcals.get_calendar("XNYS", start="2024-01-02", end="2026-12-31").schedule
    full = sched[(sched["close"] - sched["open"]).dt.total_seconds() == 390 * 60]
    naive = full["open"].dt.tz_convert("UTC").dt.tz_localize(None)  # UTC wall times
    return np.asarray(naive.to_numpy().astype("datetime64[ns]").astype(np.int64))


def session_minutes(n: int) -> np.ndarray:
    """End times (ns UTC) of the first ``n`` one-minute bars of full XNYS sessions from
    2024-01-02: 390 bars a session, nights and weekends absent, as the calendar the env and the
    cost calibration apply to the bars. (Bars running 24 h a day under an XNYS label made the
    calibration read a day as 1,440 bars once it had five of them: daily volatility x1.9, so the
    square-root impact coefficient and the planted edge's costs grew with the evidence size.)"""
    opens = _full_session_opens()[: math.ceil(n / BARS_PER_SESSION)]
    minutes = np.arange(1, 391, dtype=np.int64) * NS
    return np.asarray((opens[:, None] + minutes[None, :]).reshape(-1)[:n])


def ar_bars(n: int, phi: float, seed: int) -> Bars:
    """Session-shaped minute bars whose log returns are AR(1) with coefficient ``phi`` (the
    planted edge; 1 % daily volatility, 0.2 bps quoted spread, deep book)."""
    base = random_walk_bars(n, seed=seed, daily_vol=0.01)
    rng = np.random.default_rng(seed + 7)
    sigma = 0.01 * math.sqrt(60.0 / 23_400.0)
    e = rng.normal(0.0, sigma * math.sqrt(1 - phi * phi), n)
    r = np.empty(n)
    prev = 0.0
    for t in range(n):
        prev = phi * prev + e[t]
        r[t] = prev
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    return Bars(
        ts=session_minutes(n),
        open=open_,
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        close=close,
        volume=base.volume * 1000,
        vwap=(open_ + close) / 2,
        spread=close * 0.2e-4,
        n_trades=base.n_trades,
        symbol="SIM",
        calendar="XNYS",
    )


ENV = TradingEnvConfig(window=2, norm_window=100, capital=100_000.0)
#: A low-cost venue (0.1 bps commission, 0.2 bps quoted spread, deep book): the planted edge is
#: small, and the null must hold with full costs charged either way.
COSTS = CostModelConfig(commission_per_share=0.0, commission_bps=0.1, commission_min_per_trade=0.0)


def momentum(obs: np.ndarray) -> np.ndarray:
    """Long after an up bar, short after a down bar (last return feature of the window)."""
    return np.array([1.0 if obs[-1 - 3] > 0 else -1.0], dtype=np.float32)


class RandomHolder:
    """Skill-free policy: a random target (flat with probability ``flat``, else long or short
    at full size), kept for a geometric spell of mean ``hold`` bars, then redrawn."""

    def __init__(self, seed: int, hold: float, flat: float = 1 / 3) -> None:
        self.rng = np.random.default_rng(seed)
        self.p_change, self.flat = 1.0 / hold, flat
        self.target: float | None = None

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self.target is None or self.rng.random() < self.p_change:
            self.target = 0.0 if self.rng.random() < self.flat else float(self.rng.choice([-1, 1]))
        return np.array([self.target], dtype=np.float32)


def market_trial(
    rng: np.random.Generator, n: int, edge: bool, phi: float, n_boot: int, null: str, hold: float
) -> tuple[float, float, float]:
    seed = int(rng.integers(1 << 31))
    n_bars = n + ENV.window + 1
    kw = {"n_episodes": 1, "env_config": ENV, "cost_config": COSTS}
    if edge:
        bars = ar_bars(n_bars, phi, seed)
        res = evaluate_policy(momentum, bars, baselines=(), **kw)  # type: ignore[arg-type]
        return p_value(to_series(res, ENV.capital), None, n_boot, seed)
    bars = ar_bars(n_bars, 0.0, seed)
    if null == "churn":
        a = evaluate_policy(None, bars, seed=seed, baselines=("matched_null",), **kw)  # type: ignore[arg-type]
        b = evaluate_policy(None, bars, seed=seed + 1, baselines=("matched_null",), **kw)  # type: ignore[arg-type]
    else:
        a = evaluate_policy(RandomHolder(seed, hold), bars, baselines=(), **kw)  # type: ignore[arg-type]
        b = evaluate_policy(RandomHolder(seed + 1, hold), bars, baselines=(), **kw)  # type: ignore[arg-type]
    return p_value(to_series(a, ENV.capital), to_series(b, ENV.capital), n_boot, seed)


def report(
    kind: str, n: int, null: np.ndarray, edge: np.ndarray, alpha: float, seconds: float
) -> None:
    """``null``/``edge``: rows of ``(p, block length, effect in sd per session)``."""
    null = null.reshape(-1, 3)
    null_p = null[:, 0]
    a1 = spent_alpha(alpha, 1)
    raw = float(np.mean(null_p <= alpha)) if null_p.size else math.nan
    gate = float(np.mean(null_p <= a1)) if null_p.size else math.nan
    groups = null_p[: null_p.size // 10 * 10].reshape(-1, 10)
    alphas = np.array([spent_alpha(alpha, k) for k in range(1, 11)])
    family = float(np.mean((groups <= alphas).any(axis=1))) if groups.size else math.nan
    power = float(np.mean(edge[:, 0] <= a1)) if edge.size else math.nan
    effect = float(np.nanmean(edge[:, 2])) if edge.size else math.nan
    se = math.sqrt(alpha * (1 - alpha) / max(null_p.size, 1))
    print(
        f"{kind:13s} {n:6d} bars ({n / BARS_PER_SESSION:5.1f} sessions): "
        f"FPR raw@{alpha:.2f} {raw:6.2%} (±{1.96 * se:.2%})  gate@alpha_1 {gate:6.2%}  "
        f"any-of-10 {family:6.2%}  power {power:6.1%} (edge {effect:4.2f} sd/session)  "
        f"block {np.nanmean(np.r_[null[:, 1], edge[:, 1]]):5.1f} bars  "
        f"[{null_p.size} null, {edge.shape[0]} edge trials, {seconds:.0f} s]",
        flush=True,
    )


def drift(trials: int, sizes: list[int], alpha: float, rng: np.random.Generator) -> None:
    for n in sizes:
        null = np.mean([drift_test(list(rng.standard_t(4, n)), alpha)[0] for _ in range(trials)])
        sd = math.sqrt(2.0)  # of Student-t(4)
        power = np.mean(
            [drift_test(list(rng.standard_t(4, n) - 0.5 * sd), alpha)[0] for _ in range(trials)]
        )
        print(
            f"drift   {n:6d} episodes: false alarms {null:6.2%} (alpha {alpha:.0%})  "
            f"power at -0.5 sd {power:6.1%}   [{trials} trials]",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=2000, help="null trials per cell")
    ap.add_argument("--edge-trials", type=int, default=None, help="edge trials (default: --trials)")
    ap.add_argument("--sizes", default="300,1000,3000,12480", help="bars of evidence (direct)")
    ap.add_argument("--market-sizes", default="1000,3000")
    ap.add_argument("--market-null", choices=("held", "churn"), default="held")
    ap.add_argument("--hold", type=float, default=20.0, help="mean holding spell of the null, bars")
    ap.add_argument("--n-boot", type=int, default=299)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument(
        "--phi", type=float, default=0.31, help="planted AR(1) coefficient (0.31: ~0.5 sd/session)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drift-episodes", default="8,16,32", help="episodes in the drift test")
    ap.add_argument("--only", choices=("drift", "direct", "market"), default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    edge_trials = args.trials if args.edge_trials is None else args.edge_trials
    t0 = time.perf_counter()
    if args.only in (None, "drift"):
        sizes = [int(s) for s in args.drift_episodes.split(",") if s]
        drift(args.trials, sizes, args.alpha, rng)
    if args.only in (None, "direct"):
        for n in (int(s) for s in args.sizes.split(",") if s):
            t = time.perf_counter()
            null = np.array([direct_trial(rng, n, False, args.n_boot) for _ in range(args.trials)])
            edge = np.array([direct_trial(rng, n, True, args.n_boot) for _ in range(edge_trials)])
            report("direct", n, null, edge.reshape(-1, 3), args.alpha, time.perf_counter() - t)
    if args.only in (None, "market"):
        for n in (int(s) for s in args.market_sizes.split(",") if s):
            t = time.perf_counter()
            null = np.array(
                [
                    market_trial(rng, n, False, args.phi, args.n_boot, args.market_null, args.hold)
                    for _ in range(args.trials)
                ]
            )
            edge = np.array(
                [
                    market_trial(rng, n, True, args.phi, args.n_boot, args.market_null, args.hold)
                    for _ in range(edge_trials)
                ]
            )
            kind = f"market/{args.market_null}" if args.trials else "market/edge"
            report(kind, n, null, edge.reshape(-1, 3), args.alpha, time.perf_counter() - t)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
