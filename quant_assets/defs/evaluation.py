"""episodes (out-of-sample evaluation) and policy_promotion (champion/challenger gate)."""

import base64
import os
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import numpy as np
from pydantic import Field

from quant_assets.defs.partitions import symbol_partitions
from quant_assets.defs.retries import retry_transient
from quant_assets.defs.training import TRAINING_GROUP, scratch_dir
from quant_assets.lib.evaluation.episodes import EpisodeResult
from quant_assets.lib.warehouse.base import EpisodeRecord
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

GRAFANA_URL_ENV = "QUANT_GRAFANA_URL"


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
    n_episodes: int = Field(default=8, ge=2)
    seed: int = 0


@dg.asset(
    partitions_def=symbol_partitions,
    group_name=TRAINING_GROUP,
    kinds={"duckdb", "timescaledb"},
    deps=["trained_policy"],
    description="Deterministic out-of-sample episodes on the policy's test split, with the "
    "current champion and flat / buy-and-hold / random baselines on the same windows.",
)
def episodes(
    context: dg.AssetExecutionContext,
    config: EpisodesConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    with retry_transient(context):
        return _evaluate(context, config, object_store, warehouse)


def _evaluate(
    context: dg.AssetExecutionContext,
    config: EpisodesConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    from quant_assets.lib.evaluation.episodes import equity_curve_png
    from quant_assets.lib.evaluation.pipeline import evaluate_stored_policy, summary_markdown
    from quant_assets.lib.evaluation.registry import champion_id
    from quant_assets.lib.training.pipeline import artifact_prefix

    symbol = context.partition_key
    trained = latest_metadata(context, "trained_policy", symbol)
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    champion = champion_id(wh, symbol)
    evaluation = evaluate_stored_policy(
        store,
        str(trained["artifact_prefix"]),
        warehouse=wh,
        champion_prefix=artifact_prefix(symbol, champion) if champion else None,
        n_episodes=config.n_episodes,
        cache_dir=scratch_dir() / "artifact_cache",
        seed=config.seed,
    )
    challenger_run = str(evaluation.challenger.lineage["run_id"])
    runs = {evaluation.challenger.name: challenger_run}
    if evaluation.champion is not None:
        runs[evaluation.champion.name] = str(evaluation.champion.lineage["run_id"])
    wh.write_episodes(
        EpisodeRecord(
            **r.to_row(runs.get(r.policy, challenger_run)),
            evaluation_id=context.run.run_id,
            policy=r.policy,
        )
        for r in evaluation.results
    )
    png = equity_curve_png(evaluation.results)
    png_key = f"evaluations/{symbol}/{context.run.run_id}/equity.png"
    store.write_bytes(png_key, png)
    grafana = os.environ.get(GRAFANA_URL_ENV, "http://localhost:3000")
    return dg.MaterializeResult(
        metadata={
            "evaluation_id": context.run.run_id,
            "challenger": evaluation.challenger.name,
            "challenger_policy_id": evaluation.challenger.policy_id,
            "champion": evaluation.champion.name if evaluation.champion else None,
            "champion_policy_id": evaluation.champion.policy_id if evaluation.champion else None,
            "episodes": len(evaluation.results),
            "summary": dg.MetadataValue.md(summary_markdown(evaluation.results)),
            "equity_curve": dg.MetadataValue.md(
                f"![equity](data:image/png;base64,{base64.b64encode(png).decode()})"
            ),
            "equity_curve_uri": dg.MetadataValue.path(store.uri(png_key)),
            "training_metrics_dashboard": dg.MetadataValue.url(
                f"{grafana}/d/quant-training/training?var-run_id={challenger_run}"
            ),
        }
    )


class PromotionConfig(dg.Config):
    metric: str = "final_pnl"
    margin: float = Field(default=0.0, ge=0, description="required improvement, metric units")
    n_boot: int = 2000
    alpha: float = 0.05
    seed: int = 0


def _episode(row: dict[str, Any]) -> EpisodeResult:
    return EpisodeResult(
        **{k: row[k] for k in EpisodeResult.__dataclass_fields__ if k in row},
        equity_curve=np.zeros(0),
    )


@dg.asset(
    partitions_def=symbol_partitions,
    group_name=TRAINING_GROUP,
    kinds={"duckdb", "timescaledb"},
    deps=["episodes"],
    description="Promotes the challenger to production:<symbol> only if it beats the champion "
    "(or the flat baseline) out of sample, net of costs, by the margin with a paired bootstrap.",
)
def policy_promotion(
    context: dg.AssetExecutionContext, config: PromotionConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from quant_assets.lib.evaluation.promotion import decide
    from quant_assets.lib.evaluation.registry import production_alias

    symbol = context.partition_key
    evaluated = latest_metadata(context, "episodes", symbol)
    wh = warehouse.get_warehouse()
    rows = wh.query(
        "SELECT * FROM episodes WHERE evaluation_id = :e ORDER BY policy, episode_id",
        {"e": evaluated["evaluation_id"]},
    ).to_pylist()

    def of(name: object) -> list[EpisodeResult]:
        return [_episode(r) for r in rows if r["policy"] == name]

    champion = of(evaluated["champion"]) if evaluated.get("champion") else None
    decision = decide(
        of(evaluated["challenger"]),
        champion,
        flat=of("flat"),
        metric=config.metric,
        margin=config.margin,
        n_boot=config.n_boot,
        alpha=config.alpha,
        seed=config.seed,
    )
    alias = production_alias(symbol)
    if decision.promote:
        wh.set_alias(alias, str(evaluated["challenger_policy_id"]))
    current = wh.get_alias(alias)
    wh.record_promotion_decision(
        {
            "evaluation_id": evaluated["evaluation_id"],
            "symbol": symbol,
            "alias": alias,
            "challenger": evaluated["challenger_policy_id"],
            "champion": evaluated.get("champion_policy_id"),
            "promoted": decision.promote,
            "reason": decision.reason,
            "metric": decision.metric,
            "margin": decision.margin,
            "n_episodes": decision.n,
            "mean_diff": decision.mean_diff,
            "ci_low": decision.ci_low,
            "ci_high": decision.ci_high,
            "lower_bound": decision.lower_bound,
            "p_value": decision.p_value,
            "decided_at": datetime.now(tz=UTC),
        }
    )
    return dg.MaterializeResult(
        metadata={
            "promoted": decision.promote,
            "reason": decision.reason,
            "production": current.policy_id if current else None,
            "previous": current.previous_policy_id if current else None,
            "decision": dg.MetadataValue.json(decision.to_dict()),
        }
    )
