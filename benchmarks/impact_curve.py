"""Cost realism of the env's fill and impact model, from one run.

1. Impact curve: parents of 0.1 %-10 % of ADV executed evenly over 1-60 one-minute children
   through ``TradingEnv`` (propagator impact, no participation cap, no commission), their
   simulated impact cost (paid along the parent's path + temporary) in bps of the arrival
   notional against the square-root law on the whole order ``Y*sigma*sqrt(Q/ADV)`` — and the old
   per-child square-root charge (what slicing used to buy). Target: for every execution whose
   parent participation is <= 25 % of market volume, 0.5 <= simulated / law <= 2.
2. Bounce policy: contrarian on the last trade-price return on a mid random walk whose trades
   print at the bid or the ask. Its PnL before costs must be <= 1 % of the spread it pays.

Run: ``.venv/bin/python benchmarks/impact_curve.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.trading.bars import Bars, calibrate_bars, random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

SIGMA = 0.02  # daily volatility of the synthetic market
ADV = 10_000_000.0  # shares per session
SIZES = (0.001, 0.005, 0.01, 0.02, 0.05, 0.10)
MINUTES = (1, 5, 20, 60)


def impact_row(bars: Bars, fraction: float, minutes: int) -> dict[str, float]:
    """Simulated cost (bps of arrival notional) of one parent sliced into ``minutes`` children."""
    cost = CostModelConfig(
        commission_per_share=0.0, commission_min_per_trade=0.0, max_participation=None
    )
    params = calibrate_bars(bars, cost).model_copy(update={"daily_vol": SIGMA, "adv": ADV})
    start = 100
    q = fraction * ADV
    arrival = float(bars.mid[start])
    cfg = TradingEnvConfig(
        window=8, norm_window=50, capital=q * arrival, max_episode_steps=minutes + 1
    )
    env = TradingEnv(bars, cost_config=cost, params=params, config=cfg)
    env.reset(options={"start": start})
    for k in range(minutes):
        env.step(np.array([(k + 1) / minutes], dtype=np.float32))
    costs = env.costs_by_component()
    notional = q * arrival
    per_child = q / minutes
    old = minutes * SIGMA * math.sqrt(per_child / ADV) * per_child * arrival  # per-child sqrt
    return {
        "participation": q / (minutes * ADV / 390.0),
        "path_bps": costs["impact"] / notional * 1e4,
        "temp_bps": costs["impact_temporary"] / notional * 1e4,
        "law_bps": SIGMA * math.sqrt(fraction) * 1e4,
        "old_bps": old / notional * 1e4,
    }


def bounce_row(spread_bps: float, n_bars: int) -> dict[str, float]:
    """The contrarian policy's PnL before costs as a fraction of the spread it paid."""
    bars = random_walk_bars(n_bars, seed=11, daily_vol=0.002, spread_bps=spread_bps, bounce=True)
    cost = CostModelConfig(
        impact_model="none",
        commission_per_share=0.0,
        commission_min_per_trade=0.0,
        max_participation=None,
        financing_rate_annual=0.0,
    )
    cfg = TradingEnvConfig(window=8, norm_window=50, eval_mode=True, overnight="hold")
    env = TradingEnv(bars, cost_config=cost, config=cfg)
    env.reset()
    close = bars.close
    positions: list[float] = []
    truncated, info = False, {}
    while not truncated:
        t = env._t
        target = -1.0 if close[t] > close[t - 1] else 1.0
        _, _, _, truncated, info = env.step(np.array([target], dtype=np.float32))
        positions.append(target)
    spread_paid = info["costs"]["spread"]
    gross = info["equity_curve"][-1] - cfg.capital + info["total_cost"]
    # the same positions filled at the close of the bar they were decided on (the old model)
    t0 = cfg.window
    shares = np.asarray(positions) * cfg.capital / bars.mid[t0]
    same_bar = float(np.sum(shares * np.diff(close[t0 : t0 + len(shares) + 1])))
    return {"gross_pct": gross / spread_paid * 100, "same_bar_pct": same_bar / spread_paid * 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bounce-bars", type=int, default=50_000)
    args = parser.parse_args()
    bars = random_walk_bars(400, seed=0, daily_vol=1e-6, spread_bps=0.0)
    bars = dataclasses.replace(bars, volume=np.full(len(bars), ADV / 390.0))
    print(f"impact of parent orders (sigma {SIGMA:.0%}/day, ADV {ADV:,.0f}, Y = 1, eta = 0.142)")
    print(
        f"{'%ADV':>6} {'min':>4} {'partic':>8} {'path bp':>8} {'temp bp':>8} {'total bp':>9} "
        f"{'sqrt law':>9} {'ratio':>6} {'old/child':>10}"
    )
    ok_impact = True
    for fraction in SIZES:
        for minutes in MINUTES:
            r = impact_row(bars, fraction, minutes)
            total = r["path_bps"] + r["temp_bps"]
            ratio = total / r["law_bps"]
            judged = r["participation"] <= 0.25
            if judged and not 0.5 <= ratio <= 2.0:
                ok_impact = False
            print(
                f"{fraction:6.1%} {minutes:4d} {r['participation']:8.1%} {r['path_bps']:8.2f} "
                f"{r['temp_bps']:8.2f} {total:9.2f} {r['law_bps']:9.2f} {ratio:6.2f}"
                f"{'' if judged else '*':1s} {r['old_bps']:9.2f}"
            )
    print("* participation > 25 %: not judged (no such execution in practice)")
    print(f"impact target 0.5 <= simulated / law <= 2: {'OK' if ok_impact else 'MISS'}")
    print("bounce policy (contrarian on last trade return), PnL before costs / spread paid:")
    ok_bounce = True
    for spread in (5.0, 10.0, 20.0):
        b = bounce_row(spread, args.bounce_bars)
        ok_bounce &= abs(b["gross_pct"]) <= 1.0
        print(
            f"  spread {spread:4.0f} bp: next-bar fills at the mid {b['gross_pct']:+6.2f} %   "
            f"same-bar fills at the close (old model) {b['same_bar_pct']:+6.1f} %"
        )
    print(f"bounce target |phantom| <= 1 % of spread paid: {'OK' if ok_bounce else 'MISS'}")


if __name__ == "__main__":
    main()
