"""Out-of-sample evaluation of a stored policy, with the champion and baselines on the same
windows, orchestrator-free: what the ``episodes`` asset runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.evaluation.episodes import EpisodeResult, evaluate_policy
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.ticks.manifest import ManifestStore
from quant_assets.lib.trading import Bars, build_time_bars, calibrate_bars
from quant_assets.lib.training.artifact import LoadedPolicy, load_policy
from quant_assets.lib.training.pipeline import download_artifact

BASELINES = ("flat", "buy_and_hold", "random")


@dataclass(frozen=True)
class Evaluation:
    challenger: LoadedPolicy
    champion: LoadedPolicy | None
    results: list[EpisodeResult]

    def of(self, policy: str) -> list[EpisodeResult]:
        return [r for r in self.results if r.policy == policy]


def policy_bars(store: ObjectStore, warehouse: ManifestStore, policy: LoadedPolicy) -> Bars:
    """The bars the policy was trained and split on, rebuilt from its recorded partitions."""
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
    return build_time_bars(ticks, policy.config.bar_interval, symbol=symbol)


def evaluate_stored_policy(
    store: ObjectStore,
    challenger_prefix: str,
    *,
    warehouse: ManifestStore,
    champion_prefix: str | None,
    n_episodes: int,
    cache_dir: Path,
    seed: int = 0,
) -> Evaluation:
    """Deterministic episodes over the challenger's test split for the challenger, the current
    champion (when there is one) and the baselines, with the cost calibration recorded in the
    challenger's lineage (the stored ``cost_model_params`` of its training window)."""
    challenger = load_policy(download_artifact(store, challenger_prefix, cache_dir))
    champion = (
        load_policy(download_artifact(store, champion_prefix, cache_dir))
        if champion_prefix and champion_prefix != challenger_prefix
        else None
    )
    bars = policy_bars(store, warehouse, challenger)
    config = challenger.config
    splits = config.split.split(bars, min_bars=config.env.window + 3)
    stored = challenger.lineage.get("cost_model_params")
    # the exact calibration the policy was trained with; older artifacts: the train split's
    params = CalibratedParams.model_validate(stored) if stored else calibrate_bars(splits["train"])
    results: list[EpisodeResult] = []
    for policy, baselines in ((challenger, BASELINES), (champion, ())):
        if policy is None:
            continue
        results += evaluate_policy(
            policy,
            splits["test"],
            n_episodes=n_episodes,
            cost_config=params.config,
            cost_params=params,
            env_config=config.env,
            seed=seed,
            split="test",
            policy_name=policy.name,
            baselines=baselines,
        )
    return Evaluation(challenger=challenger, champion=champion, results=results)


def summary_markdown(results: Sequence[EpisodeResult]) -> str:
    """Mean figures per policy: what the UI shows for an evaluation."""
    columns = ("final_pnl", "max_dd", "sharpe", "cost_total", "n_trades")
    rows = [
        "| policy | episodes | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for name in dict.fromkeys(r.policy for r in results):
        mine = [r for r in results if r.policy == name]
        means = [sum(float(getattr(r, c)) for r in mine) / len(mine) for c in columns]
        rows.append(f"| {name} | {len(mine)} | " + " | ".join(f"{m:,.4g}" for m in means) + " |")
    return "\n".join(rows)
