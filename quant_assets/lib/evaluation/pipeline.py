"""One evaluation end to end, independent of the orchestrator: rebuild the challenger's test
window from its recorded partitions, run the challenger, the baselines and the champion (each with
its own recorded config) over the walk-forward test folds, pool per-bar returns, and store them.

The champion's own training data must not overlap the test window: when its train/validation
blocks reach into (or within ``embargo_sessions`` of) the challenger's test window, only the test
bars after that embargo count in the comparison (``comparable_from_ns``), and none at all when
nothing is left.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.evaluation.episodes import (
    BASELINES,
    EpisodeResult,
    evaluate_policy,
    to_series,
)
from quant_assets.lib.evaluation.statistics import (
    PerformanceStats,
    ReturnSeries,
    bars_per_year,
    performance,
    sessions_per_year,
)
from quant_assets.lib.evaluation.walkforward import (
    FoldModel,
    fold_test_bounds,
    recorded_fold0,
    retrain_folds,
    single_model,
)
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.manifest import ManifestStore
from quant_assets.lib.trading import Bars, build_time_bars, calibrate_bars
from quant_assets.lib.training.artifact import LoadedPolicy, load_policy
from quant_assets.lib.training.pipeline import download_artifact

NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class EvaluationSettings:
    """How much evidence an evaluation produces and the least it accepts."""

    episodes_per_fold: int = 4
    min_episode_bars: int = 30
    seed: int = 0
    #: walk-forward: refit the challenger's recipe for every fold after the first on the data
    #: before it (:mod:`~quant_assets.lib.evaluation.walkforward`)
    retrain_per_fold: bool = True
    #: refit only recipes of at most this many timesteps (a fold costs one training); above it
    #: the evaluated policy trades every fold and the evaluation says so
    retrain_max_timesteps: int = 50_000


@dataclass(frozen=True)
class Evaluation:
    challenger: LoadedPolicy
    champion: LoadedPolicy | None
    results: list[EpisodeResult]  # challenger, baselines, champion: every episode
    symbol: str
    calendar: str
    bar_seconds: float
    bars_per_year: float
    bars_per_session: float
    folds: int
    comparable_from_ns: int | None  # champion comparison only on bars after this (None: all)
    fold_models: tuple[FoldModel, ...] = ()  # the model that traded each fold
    walk_forward: str = ""  # how the folds' models were obtained, in words

    def of(self, policy: str) -> list[EpisodeResult]:
        return [r for r in self.results if r.policy == policy]

    @property
    def policies(self) -> list[str]:
        return list(dict.fromkeys(r.policy for r in self.results))

    def series(self) -> dict[str, ReturnSeries]:
        capital = float(self.challenger.config.env.capital)
        return {p: to_series(self.of(p), capital) for p in self.policies}

    def stats(self) -> list[PerformanceStats]:
        return [
            performance(s, bars_per_year=self.bars_per_year, bars_per_session=self.bars_per_session)
            for s in self.series().values()
        ]


def _parse_utc_ns(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp() * 1e9)


def trained_until_ns(policy: LoadedPolicy) -> int | None:
    """End of the data the policy was fitted or selected on (its train/validation blocks)."""
    splits = policy.lineage.get("splits") or {}
    ends = [_parse_utc_ns(s["last_ts"]) for k, s in splits.items() if k != "test" and s]
    return max(ends) if ends else None


def policy_ticks(
    store: ObjectStore, warehouse: ManifestStore, policy: LoadedPolicy
) -> tuple[str, Any]:
    """The clean ticks the policy was trained and split on, from its recorded partitions."""
    keys = [p["partition_key"] for p in policy.lineage["partitions"]]
    symbol = keys[0].split("|")[1]
    days = {date.fromisoformat(k.split("|")[0]) for k in keys}
    entries = manifest.read(warehouse, symbol=symbol, start=min(days), end=max(days))
    ticks, refs = load_clean_ticks(store, [e for e in entries if e.session_date in days])
    recorded = {p["partition_key"]: p["data_version"] for p in policy.lineage["partitions"]}
    changed = [r.partition_key for r in refs if recorded.get(r.partition_key) != r.data_version]
    if changed:
        raise ValueError(
            f"clean partitions changed since {policy.name} was trained: {changed}; "
            "its test split is no longer the data it was split on"
        )
    return symbol, ticks


def policy_bars(store: ObjectStore, warehouse: ManifestStore, policy: LoadedPolicy) -> Bars:
    symbol, ticks = policy_ticks(store, warehouse, policy)
    return build_time_bars(ticks, policy.config.bar_interval, symbol=symbol)


def recorded_params(policy: LoadedPolicy, train: Bars) -> CalibratedParams:
    """The exact cost calibration the policy was trained with (stored in its lineage); older
    artifacts without one: a calibration on ``train``."""
    stored = policy.lineage.get("cost_model_params")
    return CalibratedParams.model_validate(stored) if stored else calibrate_bars(train)


def _window(bars: Bars, first_ns: int, last_ns: int, lookback: int) -> Bars:
    """Bars ending in ``[first_ns, last_ns]`` plus ``lookback`` bars before (feature warm-up)."""
    lo = int(np.searchsorted(bars.ts, first_ns, side="left"))
    hi = int(np.searchsorted(bars.ts, last_ns, side="right"))
    return bars.slice(max(lo - lookback, 0), hi)


def evaluate_stored_policy(
    store: ObjectStore,
    challenger_prefix: str,
    *,
    warehouse: ManifestStore,
    champion_prefix: str | None,
    cache_dir: Path,
    settings: EvaluationSettings | None = None,
) -> Evaluation:
    """Challenger, baselines and champion over the challenger's walk-forward test folds, with
    costs calibrated on the challenger's train block; see the module docstring."""
    cfg = settings if settings is not None else EvaluationSettings()
    challenger = load_policy(download_artifact(store, challenger_prefix, cache_dir))
    champion = (
        load_policy(download_artifact(store, champion_prefix, cache_dir))
        if champion_prefix and champion_prefix != challenger_prefix
        else None
    )
    symbol, ticks = policy_ticks(store, warehouse, challenger)
    config = challenger.config
    bars = build_time_bars(ticks, config.bar_interval, symbol=symbol)
    splits = config.split.split(bars, min_bars=config.env.window + 3)
    train, test = splits["train"], splits["test"]
    params = recorded_params(challenger, train)
    calendar = instrument_for(symbol).calendar
    bpy = bars_per_year(calendar, bars.bar_seconds)
    folds = config.split.test_folds
    n_episodes = folds * cfg.episodes_per_fold
    fold_models, walk_forward = _fold_models(
        challenger, bars, test, params.config, cache_dir, cfg, n_episodes
    )
    results = evaluate_policy(
        challenger,
        test,
        n_episodes=n_episodes,
        cost_config=params.config,
        cost_params=params,
        env_config=config.env,
        seed=cfg.seed,
        split="test",
        policy_name=challenger.name,
        baselines=BASELINES,
        periods_per_year=bpy,
        min_episode_bars=cfg.min_episode_bars,
        folds=folds,
        fold_policies=[m.act for m in fold_models],
    )
    comparable_from: int | None = None
    if champion is not None:
        own = champion.config
        champ_bars = (
            bars
            if own.bar_interval == config.bar_interval
            else build_time_bars(ticks, own.bar_interval, symbol=symbol)
        )
        first, last = int(test.ts[config.env.window]), int(test.ts[-1])
        window = _window(champ_bars, first, last, own.env.window)
        trained_end = trained_until_ns(champion)
        embargo = max(config.split.embargo_sessions, 1)
        if trained_end is not None and trained_end // NS_PER_DAY + embargo >= first // NS_PER_DAY:
            comparable_from = (trained_end // NS_PER_DAY + embargo + 1) * NS_PER_DAY
        champ_train = champ_bars.slice(0, max(int(np.searchsorted(champ_bars.ts, train.ts[-1])), 2))
        champ_params = recorded_params(champion, champ_train)
        results += evaluate_policy(
            champion,
            window,
            n_episodes=n_episodes,
            cost_config=champ_params.config,
            cost_params=champ_params,
            env_config=own.env,
            seed=cfg.seed,
            split="test",
            policy_name=champion.name,
            baselines=(),
            periods_per_year=bars_per_year(calendar, champ_bars.bar_seconds),
            min_episode_bars=1,
            folds=folds,
        )
    return Evaluation(
        challenger=challenger,
        champion=champion,
        results=results,
        symbol=symbol,
        calendar=calendar,
        bar_seconds=bars.bar_seconds,
        bars_per_year=bpy,
        bars_per_session=bpy / sessions_per_year(calendar),
        folds=folds,
        comparable_from_ns=comparable_from,
        fold_models=tuple(fold_models),
        walk_forward=walk_forward,
    )


def _fold_models(
    challenger: LoadedPolicy,
    bars: Bars,
    test: Bars,
    cost_config: CostModelConfig,
    cache_dir: Path,
    cfg: EvaluationSettings,
    n_episodes: int,
) -> tuple[list[FoldModel], str]:
    """Each fold's model: refits per :mod:`walkforward` when configured and affordable."""
    config = challenger.config
    folds = config.split.test_folds
    bounds = fold_test_bounds(test, config.env.window, n_episodes, folds)
    fold0 = recorded_fold0(challenger, bounds)
    if folds == 1:
        return [fold0], "one fold: the trained policy"
    if not cfg.retrain_per_fold:
        return single_model(fold0, bounds), "one model for every fold (retrain_per_fold off)"
    if config.total_timesteps > cfg.retrain_max_timesteps:
        why = (
            f"one model for every fold: {config.total_timesteps:,} timesteps a refit > "
            f"retrain_max_timesteps {cfg.retrain_max_timesteps:,}"
        )
        return single_model(fold0, bounds), why
    work = cache_dir.parent / "walk_forward"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        models = retrain_folds(
            bars,
            config,
            bounds,
            fold0=fold0,
            cost_config=cost_config,
            out_dir=Path(tmp),
            run_id=str(challenger.lineage.get("run_id", challenger.policy_id)),
        )
    return models, f"refit per fold on the data before it ({folds - 1} refits, expanding window)"


def after(series: ReturnSeries, from_ns: int | None) -> ReturnSeries:
    """The part of ``series`` with bars ending at or after ``from_ns``."""
    if from_ns is None:
        return series
    keep = series.ts >= from_ns
    return ReturnSeries(
        policy=series.policy,
        ts=series.ts[keep],
        returns=series.returns[keep],
        fold=series.fold[keep],
        capital=series.capital,
        traded_notional=series.traded_notional,
        costs=series.costs,
        n_episodes=series.n_episodes,
        n_trades=series.n_trades,
        pnl=None if series.pnl is None else series.pnl[keep],
    )
