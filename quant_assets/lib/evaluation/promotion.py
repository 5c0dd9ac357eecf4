"""Champion/challenger gate: promote a new policy only when it beats the incumbent out of sample
by more than noise and by a practical margin.

Test (paired, over episodes that share their windows):

* ``d_i = s·(challenger_i - reference_i)`` for each common ``episode_id``, with ``s = +1`` for
  higher-is-better metrics (``final_pnl``, ``ep_reward``, ``sharpe``: all net of costs) and
  ``s = -1`` for lower-is-better ones (``max_dd``, ``turnover``, ``cost_*``).
* ``mean_diff = mean(d)``. Bootstrap: ``n_boot`` resamples of the ``n`` pairs with replacement
  (``numpy.random.default_rng(seed)``) give the distribution of the mean difference.
* ``lower_bound`` = its ``alpha`` quantile (one-sided ``1 - alpha`` lower confidence bound);
  ``ci`` = the two-sided ``[alpha/2, 1 - alpha/2]`` interval (reported only);
  ``p_value`` = share of resampled means ``<= 0`` (bootstrap estimate of P(no improvement)).
* **Promote iff** ``n >= min_episodes`` and ``mean_diff > margin`` and ``lower_bound > 0``:
  the improvement is both material (margin, in metric units) and not plausibly noise.

Reference: the champion's episodes; with no champion, the flat baseline (``flat`` episodes when
given, else exactly 0 per episode, which is what flat scores on every metric here: it never
trades). Pairing by ``episode_id`` requires equal windows: mismatched start/end times raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from quant_assets.lib.evaluation.episodes import EpisodeResult

HIGHER_IS_BETTER = frozenset({"final_pnl", "ep_reward", "sharpe"})
LOWER_IS_BETTER = frozenset(
    {"max_dd", "turnover", "cost_total", "cost_commission", "cost_spread", "cost_impact"}
)


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of :func:`decide` with every figure that led to it."""

    promote: bool
    reason: str
    metric: str
    reference: str  # "champion" or "flat"
    n: int
    margin: float
    mean_diff: float  # oriented so that > 0 means the challenger is better
    lower_bound: float
    ci_low: float
    ci_high: float
    p_value: float
    challenger_mean: float
    reference_mean: float
    n_boot: int
    alpha: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _by_episode(results: Sequence[EpisodeResult], who: str) -> dict[int, EpisodeResult]:
    out: dict[int, EpisodeResult] = {}
    for r in results:
        if r.episode_id in out:
            raise ValueError(f"{who}: episode_id {r.episode_id} appears twice (mixed policies?)")
        out[r.episode_id] = r
    return out


def _pair(
    challenger: Sequence[EpisodeResult], reference: Sequence[EpisodeResult], metric: str
) -> tuple[np.ndarray, np.ndarray]:
    ch, ref = _by_episode(challenger, "challenger"), _by_episode(reference, "reference")
    if set(ch) != set(ref):
        raise ValueError(
            f"challenger and reference episodes differ: {sorted(set(ch) ^ set(ref))[:10]}"
        )
    ids = sorted(ch)
    for i in ids:
        if (ch[i].start_ts, ch[i].end_ts, ch[i].split) != (
            ref[i].start_ts,
            ref[i].end_ts,
            ref[i].split,
        ):
            raise ValueError(f"episode {i}: windows differ, a paired comparison is invalid")
    a = np.array([float(getattr(ch[i], metric)) for i in ids])
    b = np.array([float(getattr(ref[i], metric)) for i in ids])
    return a, b


def decide(
    challenger: Sequence[EpisodeResult],
    champion: Sequence[EpisodeResult] | None,
    *,
    metric: str = "final_pnl",
    margin: float = 0.0,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    flat: Sequence[EpisodeResult] | None = None,
    min_episodes: int = 2,
) -> PromotionDecision:
    """Paired-bootstrap gate; see module docstring for the exact rule."""
    if metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if not challenger:
        raise ValueError("no challenger episodes")
    sign = 1.0 if metric in HIGHER_IS_BETTER else -1.0
    if champion is not None:
        reference = "champion"
        a, b = _pair(challenger, champion, metric)
    elif flat is not None:
        reference = "flat"
        a, b = _pair(challenger, flat, metric)
    else:
        reference = "flat"
        a = np.array([float(getattr(r, metric)) for r in _by_episode(challenger, "c").values()])
        b = np.zeros_like(a)
    d = sign * (a - b)
    n = int(d.size)
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    mean_diff = float(d.mean())
    lower = float(np.quantile(boot, alpha))
    ci_low, ci_high = (float(x) for x in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    p_value = float(np.mean(boot <= 0.0))

    if n < min_episodes:
        promote, why = False, f"only {n} paired episode(s), need >= {min_episodes}"
    elif not mean_diff > margin:
        promote, why = False, f"mean improvement {mean_diff:.6g} <= margin {margin:.6g}"
    elif not lower > 0.0:
        promote, why = False, (
            f"mean improvement {mean_diff:.6g} > margin but the {1 - alpha:.0%} lower bound "
            f"{lower:.6g} <= 0 (p={p_value:.3f}): not distinguishable from noise"
        )
    else:
        promote, why = True, (
            f"mean improvement {mean_diff:.6g} > margin {margin:.6g} and {1 - alpha:.0%} lower "
            f"bound {lower:.6g} > 0 (p={p_value:.3f})"
        )
    reason = (
        f"{'promote' if promote else 'keep'} vs {reference} on {metric} over {n} episodes: {why}"
    )
    return PromotionDecision(
        promote=promote,
        reason=reason,
        metric=metric,
        reference=reference,
        n=n,
        margin=float(margin),
        mean_diff=mean_diff,
        lower_bound=lower,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        challenger_mean=float(a.mean()),
        reference_mean=float(b.mean()),
        n_boot=n_boot,
        alpha=alpha,
        seed=seed,
    )
