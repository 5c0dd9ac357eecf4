"""episodes (walk-forward out-of-sample evaluation + tear sheet) and policy_promotion (the gate)."""

import base64
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import symbol_partitions
from quant_assets.defs.retries import retry_transient
from quant_assets.defs.training import TRAINING_GROUP, training_dashboard_url
from quant_assets.lib.warehouse.base import EpisodeRecord
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

EVALUATIONS_PREFIX = "evaluations"


def latest_metadata(
    context: dg.AssetExecutionContext, asset: str, partition: str
) -> dict[str, Any]:
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        raise dg.Failure(f"{asset} has no materialization for {partition}: materialize it first")
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


class EpisodesConfig(dg.Config):
    episodes_per_fold: int = Field(default=4, ge=1, description="episodes in each test fold")
    min_episode_bars: int = Field(
        default=30, ge=2, description="refuse to evaluate on episodes shorter than this (bars)"
    )
    seed: int = 0
    retrain_per_fold: bool = Field(
        default=True,
        description="walk-forward: refit the policy's recorded recipe for every test fold after "
        "the first on the data before that fold (embargo >= 1 session); off: one model trades "
        "every fold",
    )
    retrain_max_timesteps: int = Field(
        default=50_000,
        ge=1,
        description="refit per fold only recipes of at most this many timesteps (each fold is "
        "one training); larger recipes are evaluated with one model and the metadata says so",
    )


@dg.asset(
    partitions_def=symbol_partitions,
    group_name=TRAINING_GROUP,
    kinds={"duckdb", "timescaledb"},
    deps=["trained_policy"],
    description="Out-of-sample evaluation over the policy's walk-forward test folds: the "
    "challenger, the current champion (with its own config) and flat / buy-and-hold / "
    "turnover-matched null baselines on the same bars; pooled statistics and a tear sheet.",
)
def episodes(
    context: dg.AssetExecutionContext,
    config: EpisodesConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.MaterializeResult:
    with retry_transient(context):
        return _evaluate(context, config, object_store, warehouse, platform)


def _evaluate(
    context: dg.AssetExecutionContext,
    config: EpisodesConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.MaterializeResult:
    from quant_assets.lib.evaluation.episodes import InsufficientEvidenceError
    from quant_assets.lib.evaluation.evidence import (
        fold_models_markdown,
        fold_table,
        folds_markdown,
        save_evaluation,
        stats_markdown,
    )
    from quant_assets.lib.evaluation.pipeline import EvaluationSettings, evaluate_stored_policy
    from quant_assets.lib.evaluation.registry import champion_id
    from quant_assets.lib.evaluation.report_server import report_url
    from quant_assets.lib.evaluation.tearsheet import render_html, render_png
    from quant_assets.lib.training.pipeline import artifact_prefix

    symbol = context.partition_key
    trained = latest_metadata(context, "trained_policy", symbol)
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    champion = champion_id(wh, symbol)
    try:
        evaluation = evaluate_stored_policy(
            store,
            str(trained["artifact_prefix"]),
            warehouse=wh,
            champion_prefix=artifact_prefix(symbol, champion) if champion else None,
            cache_dir=platform.scratch_dir / "artifact_cache",
            settings=EvaluationSettings(
                episodes_per_fold=config.episodes_per_fold,
                min_episode_bars=config.min_episode_bars,
                seed=config.seed,
                retrain_per_fold=config.retrain_per_fold,
                retrain_max_timesteps=config.retrain_max_timesteps,
            ),
        )
    except InsufficientEvidenceError as exc:
        raise dg.Failure(f"not enough out-of-sample evidence for {symbol}: {exc}") from exc
    challenger_run = str(evaluation.challenger.lineage["run_id"])
    runs = {evaluation.challenger.name: challenger_run}
    if evaluation.champion is not None:
        runs[evaluation.champion.name] = str(evaluation.champion.lineage["run_id"])
    wh.write_episodes(
        EpisodeRecord(
            **r.to_row(runs.get(r.policy, challenger_run)),
            evaluation_id=context.run.run_id,
            policy=r.policy,
            fold=r.fold,
        )
        for r in evaluation.results
    )
    prefix = f"{EVALUATIONS_PREFIX}/{symbol}/{context.run.run_id}"
    save_evaluation(store, prefix, evaluation)
    series = evaluation.series()
    stats = evaluation.stats()
    folds = fold_table(series, evaluation.bars_per_year)
    models = [m.record() for m in evaluation.fold_models]
    challenger_stats = stats[0]
    title = f"{symbol}: {evaluation.challenger.name} out of sample ({evaluation.folds} folds)"
    png = render_png(series, stats, folds, bars_per_year=evaluation.bars_per_year, title=title)
    facts = {
        "symbol": symbol,
        "calendar": evaluation.calendar,
        "bar (s)": evaluation.bar_seconds,
        "bars per year": round(evaluation.bars_per_year),
        "challenger": evaluation.challenger.name,
        "champion": evaluation.champion.name if evaluation.champion else "none (vs flat)",
        "evaluation_id": context.run.run_id,
    }
    report = render_html(png, stats, folds, title=title, facts=facts)
    store.write_bytes(f"{prefix}/tearsheet.png", png)
    store.write_bytes(f"{prefix}/report.html", report.encode())
    image = f"![tear sheet](data:image/png;base64,{base64.b64encode(png).decode()})"
    metadata: dict[str, Any] = {
        "evaluation_id": context.run.run_id,
        "evaluation_prefix": prefix,
        "challenger": evaluation.challenger.name,
        "challenger_policy_id": evaluation.challenger.policy_id,
        "champion": evaluation.champion.name if evaluation.champion else None,
        "champion_policy_id": evaluation.champion.policy_id if evaluation.champion else None,
        "episodes": len(evaluation.of(evaluation.challenger.name)),
        "folds": evaluation.folds,
        "test_bars": challenger_stats.n_bars,
        "test_sessions": round(challenger_stats.sessions, 2),
        "calendar": evaluation.calendar,
        "bars_per_year": round(evaluation.bars_per_year),
        "challenger_sharpe_annual": round(challenger_stats.sharpe_annual, 4),
        "challenger_sortino_annual": round(challenger_stats.sortino_annual, 4),
        "challenger_total_return_pct": round(challenger_stats.total_return_pct, 6),
        "challenger_max_drawdown_pct": round(challenger_stats.max_drawdown_pct, 6),
        "challenger_cost_bps_of_notional": round(challenger_stats.cost_total_bps, 4),
        "statistics": dg.MetadataValue.md(stats_markdown(stats)),
        "folds_table": dg.MetadataValue.json(folds),
        "walk_forward": evaluation.walk_forward,
        "fold_models": dg.MetadataValue.json(models),
        "tear_sheet": dg.MetadataValue.md(
            f"{image}\n\n### Pooled statistics\n\n{stats_markdown(stats)}"
            f"\n\n### Walk-forward folds\n\n{folds_markdown(folds)}"
            f"\n\n### Fold models ({evaluation.walk_forward})\n\n{fold_models_markdown(models)}"
        ),
        "report": dg.MetadataValue.path(store.uri(f"{prefix}/report.html")),
    }
    served = report_url(platform.reports_url, prefix)
    if served:  # the object store's file:// or s3:// link does not open from the browser
        metadata["report_url"] = dg.MetadataValue.url(served)
    dashboard = training_dashboard_url(platform.grafana_url, challenger_run)
    if dashboard:
        metadata["training_metrics_dashboard"] = dg.MetadataValue.url(dashboard)
    return dg.MaterializeResult(metadata=metadata)


class PromotionConfig(dg.Config):
    alpha: float = Field(default=0.05, gt=0, lt=1, description="family-wise per champion")
    margin_bps_per_session: float = Field(
        default=0.5, ge=0, description="required excess return, bps of capital per session"
    )
    min_bars: int = Field(default=300, ge=2, description="least paired bars to decide on")
    min_sessions: float = Field(
        default=32.0,
        ge=0,
        description="least sessions of paired evidence (32: 80 % power at a 0.5-sd edge)",
    )
    n_boot: int = Field(default=999, ge=99)
    seed: int = 0


@dg.asset(
    partitions_def=symbol_partitions,
    group_name=TRAINING_GROUP,
    kinds={"duckdb", "timescaledb"},
    deps=["episodes"],
    description="Promotes the challenger to production:<symbol> only if its per-bar excess "
    "return over the champion (or flat), net of costs, beats the margin under a studentised "
    "block bootstrap at an alpha spent across every challenger tried against this champion.",
)
def policy_promotion(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    from quant_assets.lib.evaluation.evidence import load_evaluation
    from quant_assets.lib.evaluation.pipeline import after
    from quant_assets.lib.evaluation.promotion import GateConfig, decide
    from quant_assets.lib.evaluation.registry import production_alias

    symbol = context.partition_key
    evaluated = latest_metadata(context, "episodes", symbol)
    wh, store = warehouse.get_warehouse(), object_store.get_store()
    summary, series = load_evaluation(store, str(evaluated["evaluation_prefix"]))
    alias = production_alias(symbol)
    before = wh.get_alias(alias)
    champion_id = evaluated.get("champion_policy_id")
    since = (
        before.updated_at
        if before is not None and champion_id
        else datetime(1970, 1, 1, tzinfo=UTC)
    )
    tried = wh.query_named(
        "challengers_tried",
        {"symbol": symbol, "champion": champion_id or "", "since": since},
    ).to_pylist()[0]["n"]
    start = summary.get("comparable_from_ns") if champion_id else None
    challenger = after(series[summary["challenger"]], start)
    reference = after(series[summary["champion"]], start) if summary.get("champion") else None
    decision = decide(
        challenger,
        reference,
        config=GateConfig(
            alpha=config.alpha,
            margin_bps_per_session=config.margin_bps_per_session,
            min_bars=config.min_bars,
            min_sessions=config.min_sessions,
            n_boot=config.n_boot,
            seed=config.seed,
        ),
        n_tried=int(tried) + 1,
        bars_per_session=float(summary["bars_per_session"]),
    )
    if decision.promote:
        wh.set_alias(alias, str(evaluated["challenger_policy_id"]))
    current = wh.get_alias(alias)
    wh.record_promotion_decision(
        {
            "evaluation_id": evaluated["evaluation_id"],
            "symbol": symbol,
            "alias": alias,
            "challenger": evaluated["challenger_policy_id"],
            "champion": champion_id,
            "promoted": decision.promote,
            "reason": decision.reason,
            "metric": "excess_return_bps_per_bar",
            "margin": decision.margin_bps_per_bar,
            "n_episodes": int(evaluated.get("episodes") or 0),
            "mean_diff": decision.mean_excess_bps_per_bar,
            "ci_low": decision.ci_low_bps_per_bar,
            "ci_high": decision.ci_high_bps_per_bar,
            "lower_bound": decision.lower_bound_bps_per_bar,
            "p_value": decision.p_value,
            "decided_at": datetime.now(tz=UTC),
            "n_bars": decision.n_bars,
            "n_tried": decision.n_tried,
            "alpha_spent": decision.alpha_spent,
            "deflated_sharpe": decision.deflated_sharpe,
            "report_uri": store.uri(f"{evaluated['evaluation_prefix']}/report.html"),
        }
    )
    history = wh.query_named("promotion_history", {"symbol": symbol, "limit": 20}).to_pylist()
    return dg.MaterializeResult(
        metadata={
            "promoted": decision.promote,
            "reason": decision.reason,
            "production": current.policy_id if current else None,
            "previous": current.previous_policy_id if current else None,
            "champion_since": current.updated_at.isoformat() if current else None,
            "challengers_tried_vs_champion": decision.n_tried,
            "alpha_spent": decision.alpha_spent,
            "p_value": decision.p_value,
            "mean_excess_bps_per_bar": decision.mean_excess_bps_per_bar,
            "paired_bars": decision.n_bars,
            "decision": dg.MetadataValue.json(decision.to_dict()),
            "champion_view": dg.MetadataValue.md(champion_markdown(symbol, current, history)),
        }
    )


def champion_markdown(symbol: str, current: Any, history: list[dict[str, Any]]) -> str:
    """Current champion, the alias it replaced, and the symbol's decisions (newest first)."""
    lines = [
        f"**production:{symbol}** = `{current.policy_id if current else 'none (flat)'}`"
        + (f" since {current.updated_at:%Y-%m-%d %H:%M UTC}" if current else ""),
        f"**previous** = `{current.previous_policy_id if current else None}`",
        "",
        "| decided (UTC) | challenger | champion | promoted | p | alpha_k | k | bars |"
        " excess bps/bar |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]

    def num(h: dict[str, Any], key: str, fmt: str) -> str:
        return "" if h.get(key) is None else format(h[key], fmt)

    for h in history:
        lines.append(
            f"| {h['decided_at']:%Y-%m-%d %H:%M} | `{str(h['challenger'])[:12]}` | "
            f"`{str(h['champion'] or 'flat')[:12]}` | {'yes' if h['promoted'] else 'no'} | "
            f"{num(h, 'p_value', '.4f')} | {num(h, 'alpha_spent', '.4f')} | "
            f"{num(h, 'n_tried', 'd')} | {num(h, 'n_bars', 'd')} | {num(h, 'mean_diff', '.4g')} |"
        )
    return "\n".join(lines)
