"""Why two every-bar-flipping nulls were promoted 7.55 % of the time at alpha 5 %.

Two seeds of ``matched_null`` without a challenger (long/short alternating every bar at full
size, 0.56 bps of capital a bar in costs) on the same random-walk bars, through the real env.
For each trial the plain t-statistic of the paired excess is computed two ways:

* on returns over each policy's own running equity, ``r_a - r_b`` (the gate's old evidence);
* on PnL over the episode's starting capital, ``(dE_a - dE_b) / C`` (the gate's evidence now).

Under H0 (exchangeable policies) a calibrated statistic has sd 1 and 5 % in each tail. Run::

    nice -n 19 .venv/bin/python benchmarks/churn_null_diagnostic.py --bars 3000 --trials 2000
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from promotion_gate import COSTS, ENV, ar_bars  # type: ignore[import-not-found]

from quant_assets.lib.evaluation.episodes import evaluate_policy


def t_stat(d: np.ndarray) -> float:
    sd = float(d.std(ddof=1))
    return float(d.mean()) / (sd / math.sqrt(d.size)) if sd > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=3000)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    t0 = time.perf_counter()
    for _ in range(args.trials):
        seed = int(rng.integers(1 << 31))
        bars = ar_bars(args.bars + ENV.window + 1, 0.0, seed)
        kw = {
            "n_episodes": 1,
            "env_config": ENV,
            "cost_config": COSTS,
            "baselines": ("matched_null",),
        }
        a = evaluate_policy(None, bars, seed=seed, **kw)[0]  # type: ignore[arg-type]
        b = evaluate_policy(None, bars, seed=seed + 1, **kw)[0]  # type: ignore[arg-type]
        costs = (a.cost_total + b.cost_total) / 2 / ENV.capital * 1e4 / a.returns.size
        rows.append(
            (t_stat(a.returns - b.returns), t_stat(a.pnl_of_capital - b.pnl_of_capital), costs)
        )
    r = np.array(rows)
    print(
        f"{args.bars} bars, {args.trials} trials, {time.perf_counter() - t0:.0f} s; "
        f"costs {r[:, 2].mean():.2f} bps of capital a bar"
    )
    for k, name in ((0, "returns on own equity"), (1, "PnL over capital    ")):
        t = r[:, k]
        print(
            f"  {name}: sd(t) {t.std():.3f}  P(t > 1.645) {np.mean(t > 1.645):6.2%}  "
            f"P(t < -1.645) {np.mean(t < -1.645):6.2%}"
        )


if __name__ == "__main__":
    main()
