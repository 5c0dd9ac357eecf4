"""cost_model_params: the transaction-cost engine calibrated per symbol from clean ticks."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import day_and_symbol, tick_partitions
from quant_assets.defs.retries import retry_transient
from quant_assets.defs.ticks import TICK_BACKFILL, partition_metadata
from quant_assets.lib.costs import CalibrationError, CostModelConfig
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.trading import build_time_bars, calibrate_bars
from quant_assets.lib.warehouse.base import Warehouse
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

COSTS_GROUP = "costs"
COST_PROVENANCE_CHECK = "cost_provenance"
TRAILING_DAYS = 5

# Each (date, symbol) calibration reads the symbol's clean ticks of the trailing window.
trailing_window = dg.MultiPartitionMapping(
    {
        "date": dg.DimensionPartitionMapping(
            "date", dg.TimeWindowPartitionMapping(start_offset=-(TRAILING_DAYS - 1), end_offset=0)
        ),
        "symbol": dg.DimensionPartitionMapping("symbol", dg.IdentityPartitionMapping()),
    }
)


# Like eager(), but a closed day inside the trailing window (never materialized) must not block
# the calibration, and the blocking clean_ticks checks must have passed: checks gate it.
RECALIBRATE_WHEN_CLEAN_TICKS_CHANGE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("recalibrate when clean ticks change")


class CostModelParamsConfig(dg.Config):
    trailing_days: int = Field(default=TRAILING_DAYS, ge=1, le=TRAILING_DAYS)
    bar_interval: str = "1min"
    # Overrides of CostModelConfig fields (validated there: impossible values fail clearly).
    cost_model: dict[str, Any] = Field(default_factory=dict)


@dg.asset(
    partitions_def=tick_partitions,
    group_name=COSTS_GROUP,
    kinds={"duckdb", "timescaledb"},
    backfill_policy=TICK_BACKFILL,
    deps=[dg.AssetDep("clean_ticks", partition_mapping=trailing_window)],
    automation_condition=RECALIBRATE_WHEN_CLEAN_TICKS_CHANGE,
    check_specs=[
        dg.AssetCheckSpec(
            COST_PROVENANCE_CHECK,
            asset="cost_model_params",
            description="Warns when a field fell back to a default or the window is short.",
        )
    ],
    description="Spread, volatility, ADV and volume profile per symbol over a trailing window "
    "of clean ticks (per calendar session, each field with its source), versioned by a hash "
    "of inputs and config, stored in the warehouse.",
)
def cost_model_params(
    context: dg.AssetExecutionContext,
    config: CostModelParamsConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    cost_config = CostModelConfig(**config.cost_model)
    store, wh = object_store.get_store(), warehouse.get_warehouse()
    per_key: dict[str, dict[str, Any]] = {}
    with retry_transient(context):
        for key in context.partition_keys:
            per_key[key] = _calibrate(key, config, cost_config, store, wh)
    warnings = {k: m["warnings"] for k, m in per_key.items() if m.get("warnings")}
    return dg.MaterializeResult(
        metadata=partition_metadata(per_key),
        check_results=[
            dg.AssetCheckResult(
                check_name=COST_PROVENANCE_CHECK,
                passed=not warnings,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"warnings": dg.MetadataValue.json(warnings)},
            )
        ],
    )


def _calibrate(
    key: str,
    config: CostModelParamsConfig,
    cost_config: CostModelConfig,
    store: ObjectStore,
    wh: Warehouse,
) -> dict[str, Any]:
    """Calibrate one (date, symbol) partition over its trailing window of clean ticks."""
    day, symbol = day_and_symbol(key)
    days = [day - timedelta(days=i) for i in range(config.trailing_days)]
    ticks, refs = load_clean_ticks(store, symbol, days)
    bars = build_time_bars(ticks, config.bar_interval, symbol=symbol)
    if len(bars.ts) < 2:
        # A window of closed sessions (a long weekend at the start of the data) has nothing to
        # calibrate on: recorded as such, not invented, and not a failure of a whole backfill.
        return {
            "version": None,
            "status": f"no clean ticks in the {config.trailing_days} days to {day}",
            "input_partitions": [r.to_dict() for r in refs],
        }
    try:
        params = calibrate_bars(bars, cost_config)
    except CalibrationError as exc:  # refused (no volume, no returns): recorded, not invented
        return {
            "version": None,
            "status": f"refused: {exc}",
            "warnings": [f"refused: {exc}"],
            "input_partitions": [r.to_dict() for r in refs],
        }
    as_of = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    wh.upsert_cost_model_params(symbol, params.version, as_of, params.model_dump(mode="json"))
    return {
        "version": params.version,
        "median_spread_bps": round(params.median_spread_bps, 4),
        "daily_vol": round(params.daily_vol, 6),
        "adv": round(params.adv, 1),
        "bars": params.n_bars,
        "sessions": params.n_days,
        "provenance": {k: v.model_dump() for k, v in params.provenance.items()},
        "warnings": list(params.warnings),
        "input_partitions": [r.to_dict() for r in refs],
    }
