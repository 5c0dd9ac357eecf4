"""Operator actions that are not assets: rolling the production policy back."""

import dagster as dg

from resources.warehouse import WarehouseResource


class RollbackConfig(dg.Config):
    symbol: str


@dg.op(description="Point production:<symbol> back at the previous champion.")
def rollback_production(config: RollbackConfig, warehouse: WarehouseResource) -> dg.Output[str]:
    from quant_assets.lib.evaluation.registry import rollback

    alias = rollback(warehouse.get_warehouse(), config.symbol)
    return dg.Output(
        alias.policy_id,
        metadata={
            "alias": alias.alias,
            "production": alias.policy_id,
            "previous": str(alias.previous_policy_id),
        },
    )


@dg.job(description="Undo the last promotion of a symbol (blue/green switch back).")
def rollback_policy_job() -> None:
    rollback_production()
