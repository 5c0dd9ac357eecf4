"""Deterministic out-of-sample episodes for a policy and for naive baselines on the same windows.

Episodes: the held-out bars are cut into ``n_episodes`` contiguous, equal-length windows of
decisions (from the first bar with a full feature window to the third-to-last bar: a decision
fills in the next bar, and the episode's closing exit in the one after). Episode ``k`` starts
flat at its first bar and ends flat (liquidated at the env's fill model); features may look back
into the previous window (they are causal and still held-out), so no bars are wasted on warm-up
except the first ``window``. Consecutive episodes share one boundary instant (``end_ts`` of ``k``
= ``start_ts`` of ``k+1``); the exit of ``k`` fills in the first fill bar of ``k+1``.
Windows are identical for every policy, which is what makes the paired comparison in
:mod:`quant_assets.lib.evaluation.promotion` valid. Episodes
shorter than ``min_episode_bars`` are refused (:class:`InsufficientEvidenceError`): an 11-bar
episode says nothing about a policy.

Baselines: ``flat`` (target 0, never trades: PnL 0 by construction), ``buy_and_hold`` (target
+1 from the first bar, so it pays entry costs once per episode) and ``matched_null``: a skill-free
strategy with the challenger's trading intensity — random-sign targets of the challenger's mean
absolute size (flat as often as the challenger), each held for a geometric duration with the
challenger's mean holding period and then changed, seeded by ``(seed, episode_id)``. It asks
"is the policy better than trading as much, at random?", which a target redrawn every bar (a
churn strawman) does not.

Each episode keeps its per-bar equity curve, bar-end timestamps and positions; the statistics in
:mod:`quant_assets.lib.evaluation.statistics` are computed on those per-bar returns pooled over
the whole window, never averaged over episodes. The per-episode ``sharpe`` column is the same
formula on one episode (annualised with ``periods_per_year``), kept for drill-down only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.evaluation.baselines import BASELINES, TradingIntensity, baseline_actor
from quant_assets.lib.evaluation.statistics import ReturnSeries, pool
from quant_assets.lib.trading.bars import Bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

__all__ = [
    "BASELINES",
    "EpisodeResult",
    "InsufficientEvidenceError",
    "Policy",
    "TradingIntensity",
    "annualised_sharpe",
    "episode_windows",
    "evaluate_policy",
    "run_episode",
    "to_series",
]
FloatArray = NDArray[np.float64]
Obs = NDArray[np.float32]
IntArray = NDArray[np.int64]
TRADING_DAYS_PER_YEAR = 252  # fallback annualisation when no calendar is given


class InsufficientEvidenceError(ValueError):
    """Too few or too short episodes for the statistics to mean anything."""


@runtime_checkable
class Policy(Protocol):
    """Anything with a name and an SB3-style ``predict`` (e.g. ``LoadedPolicy``)."""

    name: str

    def predict(self, obs: Obs, deterministic: bool = True) -> Any: ...


@dataclass(frozen=True, eq=False)
class EpisodeResult:
    """One evaluated episode; the fields up to ``cost_model_version`` are the warehouse
    ``episodes`` columns (money in the quote currency, ``max_dd``/``turnover`` as fractions)."""

    episode_id: int
    split: str
    start_ts: datetime
    end_ts: datetime
    ep_reward: float
    max_dd: float
    final_pnl: float  # equity change over the episode, net of all costs
    sharpe: float
    turnover: float  # traded notional / capital
    cost_commission: float
    cost_spread: float
    cost_impact: float  # sqrt + temporary + permanent impact
    cost_total: float
    n_trades: int
    cost_model_version: str
    policy: str
    equity_curve: FloatArray = field(repr=False)
    n_steps: int = 0
    bar_ts: IntArray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    positions: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)
    targets: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)
    fold: int = 0

    @property
    def returns(self) -> FloatArray:
        """Per-bar simple returns of the equity curve (fraction)."""
        c = self.equity_curve
        return np.asarray(np.diff(c) / c[:-1], dtype=np.float64) if c.size > 1 else np.zeros(0)

    @property
    def pnl_of_capital(self) -> FloatArray:
        """Per-bar PnL over the episode's starting capital (fraction): additive across bars."""
        c = self.equity_curve
        return np.asarray(np.diff(c) / c[0], dtype=np.float64) if c.size > 1 else np.zeros(0)

    def to_row(self, run_id: str) -> dict[str, Any]:
        """Row of the warehouse ``episodes`` table (no policy/curve: not columns there)."""
        return {
            "run_id": run_id,
            "episode_id": self.episode_id,
            "split": self.split,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "ep_reward": self.ep_reward,
            "max_dd": self.max_dd,
            "final_pnl": self.final_pnl,
            "sharpe": self.sharpe,
            "turnover": self.turnover,
            "cost_commission": self.cost_commission,
            "cost_spread": self.cost_spread,
            "cost_impact": self.cost_impact,
            "cost_total": self.cost_total,
            "n_trades": self.n_trades,
            "cost_model_version": self.cost_model_version,
        }


def default_periods_per_year(
    bar_seconds: float, session_seconds: float, sessions_per_year: float = TRADING_DAYS_PER_YEAR
) -> float:
    """Sessions a year of ``session_seconds`` (as the cost calibration recorded them for the
    market): the fallback when no exchange calendar is passed."""
    return sessions_per_year * session_seconds / bar_seconds


def annualised_sharpe(equity: FloatArray, periods_per_year: float) -> float:
    """Sharpe of per-bar equity returns, ``mean / std(ddof=1) * sqrt(periods_per_year)``."""
    if equity.size < 3:
        return 0.0
    r = np.diff(equity) / equity[:-1]
    sd = float(np.std(r, ddof=1))
    if not sd > 1e-15:
        return 0.0
    return float(np.mean(r) / sd * math.sqrt(periods_per_year))


def _ts(bars: Bars, i: int) -> datetime:
    ns = int(bars.ts[i])
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def episode_windows(n_bars: int, window: int, n_episodes: int) -> list[tuple[int, int]]:
    """``(start bar, n_steps)`` of ``n_episodes`` contiguous windows over the decision bars."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    total = n_bars - 2 - window  # the last decision's exit fills in the last bar
    if total < n_episodes:
        raise ValueError(
            f"{n_bars} bars give {max(total, 0)} decisions after the {window}-bar feature window;"
            f" cannot make {n_episodes} episodes"
        )
    edges = np.linspace(window, n_bars - 2, n_episodes + 1).round().astype(int).tolist()
    return [(edges[k], edges[k + 1] - edges[k]) for k in range(n_episodes)]


def run_episode(
    env: TradingEnv,
    act: Callable[[Obs], Any],
    *,
    start: int | None,
    n_steps: int | None,
    episode_id: int,
    split: str,
    policy: str,
    cost_model_version: str,
    periods_per_year: float | None = None,
    fold: int = 0,
) -> EpisodeResult:
    """Run ``act`` from bar ``start`` for ``n_steps`` (None: the env's own episode) and score it.

    Targets are the actions as position fractions; positions (what was filled) are read from
    the observation's last slot (the env's position / max position)."""
    levels = [float(x) for x in env.config.discrete_levels]
    discrete = env.config.action_type == "discrete"
    options: dict[str, int] = {} if start is None else {"start": start}
    if n_steps is not None:
        options["steps"] = n_steps  # the env truncates (and liquidates) exactly there
    obs, info = env.reset(options=options or None)
    first = int(info["start_index"])
    ep_reward = 0.0
    steps = 0
    positions: list[float] = []
    targets: list[float] = []
    while n_steps is None or steps < n_steps:
        action = act(obs)
        if discrete:
            targets.append(levels[int(action)])
        else:
            targets.append(min(max(float(np.asarray(action).reshape(-1)[0]), -1.0), 1.0))
        obs, reward, terminated, truncated, _ = env.step(action)
        positions.append(float(obs[-1]))
        ep_reward += float(reward)
        steps += 1
        if terminated or truncated:
            break
    s = env.episode_summary()
    costs: dict[str, float] = s["costs"]
    curve = np.asarray(s["equity_curve"], dtype=np.float64)
    if curve.size > steps + 1:  # the closing exit's own PnL: part of the episode's last bar
        curve = np.r_[curve[:steps], curve[-1]]
    n_ret = max(curve.size - 1, 0)
    ts = np.asarray(env.bars.ts[first + 1 : first + 1 + n_ret], dtype=np.int64)
    ppy = (
        periods_per_year
        if periods_per_year is not None
        else default_periods_per_year(
            env.bars.bar_seconds, env.params.session_seconds, env.params.sessions_per_year
        )
    )
    return EpisodeResult(
        episode_id=episode_id,
        split=split,
        start_ts=_ts(env.bars, first),
        end_ts=_ts(env.bars, first + steps),
        ep_reward=ep_reward,
        max_dd=float(s["max_drawdown"]),
        final_pnl=float(curve[-1] - curve[0]),
        sharpe=annualised_sharpe(curve, ppy),
        turnover=float(s["turnover"]),
        cost_commission=float(costs["commission"]),
        cost_spread=float(costs["spread"]),
        cost_impact=float(sum(v for k, v in costs.items() if k.startswith("impact"))),
        cost_total=float(s["total_cost"]),
        n_trades=int(s["n_trades"]),
        cost_model_version=cost_model_version,
        policy=policy,
        equity_curve=curve,
        n_steps=steps,
        bar_ts=ts,
        positions=np.asarray(positions, dtype=np.float64),
        targets=np.asarray(targets, dtype=np.float64),
        fold=fold,
    )


def policy_actor(policy: Policy | Callable[[Obs], Any]) -> Callable[[Obs], Any]:
    """Deterministic obs -> action function; accepts SB3 models too (drops their state)."""
    predict = getattr(policy, "predict", None)
    if predict is None:
        return policy  # type: ignore[return-value]

    def act(obs: Obs) -> Any:
        out = predict(obs, deterministic=True)
        return out[0] if isinstance(out, tuple) else out

    return act


def evaluate_policy(
    policy: Policy | Callable[[Obs], Any] | None,
    bars: Bars,
    *,
    n_episodes: int,
    cost_config: CostModelConfig | None = None,
    cost_params: CalibratedParams | None = None,
    env_config: TradingEnvConfig | None = None,
    seed: int = 0,
    split: str = "test",
    policy_name: str | None = None,
    baselines: Sequence[str] = BASELINES,
    periods_per_year: float | None = None,
    min_episode_bars: int = 1,
    folds: int = 1,
    fold_policies: Sequence[Policy | Callable[[Obs], Any]] | None = None,
) -> list[EpisodeResult]:
    """Policy episodes (skipped when ``policy`` is None) then each baseline on the same windows.

    Pass ``cost_params`` calibrated on the training window: without them the env calibrates on
    the held-out bars themselves (in-sample cost inputs). ``folds`` groups consecutive episodes
    into that many walk-forward test folds (``n_episodes`` must be a multiple). The matched
    null copies the policy's trading intensity (without a policy: one trade per bar at full size).
    ``fold_policies`` (one per fold, walk-forward retraining): fold ``f``'s episodes are traded
    by ``fold_policies[f]``, all under ``policy``'s name (one pooled out-of-sample series).
    """
    if folds < 1 or n_episodes % folds:
        raise ValueError(
            f"n_episodes ({n_episodes}) must be a positive multiple of folds ({folds})"
        )
    cfg = env_config if env_config is not None else TradingEnvConfig()
    windows = episode_windows(len(bars), cfg.window, n_episodes)
    shortest = min(n for _, n in windows)
    if shortest < min_episode_bars:
        raise InsufficientEvidenceError(
            f"{len(bars)} test bars make {n_episodes} episodes of {shortest} bars, below the "
            f"minimum of {min_episode_bars} bars per episode: use fewer episodes or more test data"
        )
    per_fold = n_episodes // folds
    longest = max(n for _, n in windows)
    env = TradingEnv(
        bars,
        cost_config,
        cost_params,
        config=cfg.model_copy(update={"eval_mode": False, "max_episode_steps": longest}),
    )
    version = env.params.version
    ppy = (
        periods_per_year
        if periods_per_year is not None
        else default_periods_per_year(
            bars.bar_seconds, env.params.session_seconds, env.params.sessions_per_year
        )
    )

    def run_all(name: str, make: Callable[[int], Callable[[Obs], Any]]) -> list[EpisodeResult]:
        return [
            run_episode(
                env,
                make(k),
                start=start,
                n_steps=steps,
                episode_id=k,
                split=split,
                policy=name,
                cost_model_version=version,
                periods_per_year=ppy,
                fold=k // per_fold,
            )
            for k, (start, steps) in enumerate(windows)
        ]

    results: list[EpisodeResult] = []
    intensity: TradingIntensity | None = None
    if policy is not None:
        name = policy_name or getattr(policy, "name", None) or "policy"
        if fold_policies is not None:
            if len(fold_policies) != folds:
                raise ValueError(f"{len(fold_policies)} fold policies for {folds} folds")
            actors = [policy_actor(p) for p in fold_policies]
            results += run_all(name, lambda k: actors[k // per_fold])
        else:
            actor = policy_actor(policy)
            results += run_all(name, lambda _k: actor)
        intensity = TradingIntensity.of(results)
    for b in baselines:
        results += run_all(
            b, lambda k, b=b: baseline_actor(b, cfg, seed, k, intensity)  # type: ignore[misc]
        )
    return results


def to_series(results: Sequence[EpisodeResult], capital: float) -> ReturnSeries:
    """One policy's episodes pooled into a :class:`ReturnSeries` (time order)."""
    if not results:
        raise ValueError("no episodes to pool")
    parts = [
        ReturnSeries(
            policy=r.policy,
            ts=r.bar_ts,
            returns=r.returns,
            fold=np.full(r.bar_ts.size, r.fold, dtype=np.int64),
            capital=capital,
            traded_notional=r.turnover * capital,
            costs={
                "commission": r.cost_commission,
                "spread": r.cost_spread,
                "impact": r.cost_impact,
            },
            n_episodes=1,
            n_trades=r.n_trades,
            pnl=r.pnl_of_capital,
        )
        for r in results
    ]
    return pool(parts)
