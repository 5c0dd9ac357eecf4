"""cost_model_params: the transaction-cost engine calibrated per symbol from clean ticks.

Partitioned like the ticks (session x market): one run calibrates every symbol of the
market-session over its trailing window, read through the manifest."""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.defs.partitions import session_and_market, tick_partitions
from quant_assets.defs.retries import retry_transient
from quant_assets.defs.ticks import TICK_BACKFILL, partition_metadata
from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.ticks import manifest
from quant_assets.lib.trading.lake_bars import calibrate_symbol
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

COSTS_GROUP = "costs"
COST_PROVENANCE_CHECK = "cost_provenance"
TRAILING_DAYS = 5

# Each (session, market) calibration reads its symbols' clean ticks of the trailing window.
trailing_window = dg.MultiPartitionMapping(
    {
        "date": dg.DimensionPartitionMapping(
            "date", dg.TimeWindowPartitionMapping(start_offset=-(TRAILING_DAYS - 1), end_offset=0)
        ),
        "market": dg.DimensionPartitionMapping("market", dg.IdentityPartitionMapping()),
    }
)


# Like eager(), but a closed day inside the trailing window (never materialized) must not block
# the calibration, and the blocking clean_ticks checks of every built day must have passed:
# checks gate it. (`all_deps_blocking_checks_passed` alone counts a never-built day's checks as
# not passed, so no window reaching back before the first built session would ever calibrate.)
DEP_BUILT_AND_PASSED_OR_NEVER_BUILT = dg.AutomationCondition.missing() | (
    dg.AutomationCondition.all_checks_match(
        dg.AutomationCondition.check_passed(), blocking_only=True
    )
)
RECALIBRATE_WHEN_CLEAN_TICKS_CHANGE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & dg.AutomationCondition.all_deps_match(DEP_BUILT_AND_PASSED_OR_NEVER_BUILT)
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
    warnings: dict[str, list[str]] = {}  # partition|symbol -> calibration warnings
    with retry_transient(context):
        for key in context.partition_keys:
            session, market = session_and_market(key)
            start = session - timedelta(days=config.trailing_days - 1)
            window = manifest.by_symbol(manifest.read(wh, market=market, start=start, end=session))
            per_symbol = {
                symbol: calibrate_symbol(
                    store,
                    wh,
                    session,
                    entries,
                    bar_interval=config.bar_interval,
                    trailing_days=config.trailing_days,
                    cost_config=cost_config,
                )
                for symbol, entries in sorted(window.items())
                if any(e.session_date == session for e in entries)
            }
            per_key[key] = _summary(per_symbol)
            warnings.update(
                {f"{key}|{s}": m["warnings"] for s, m in per_symbol.items() if m.get("warnings")}
            )
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


def _summary(per_symbol: dict[str, dict[str, Any]]) -> dict[str, Any]:
    calibrated = {s: m for s, m in per_symbol.items() if m["version"] is not None}
    out: dict[str, Any] = {"symbols": len(per_symbol), "calibrated": len(calibrated)}
    if len(per_symbol) <= 20:  # small sessions: the per-symbol figures and lineage in the UI
        out["by_symbol"] = per_symbol
    return out
