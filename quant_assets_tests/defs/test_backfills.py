"""Backfills as Dagster plans and runs them: the backfill policy groups a range into few runs,
and each run materializes its whole range of partitions (with checks)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import (
    build_run_requests_with_backfill_policies,
)
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from quant_assets.definitions import build_defs
from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.sessions import market_for

SYMBOLS = ["SYNA", "SYNB", "SYNC"]
SMALL = {"ops": {"tick_lake": {"config": {"synthetic_ticks_per_session": 400}}}}


def plan_and_run(
    tmp_path: Path, symbols: list[str], days: list[date]
) -> tuple[list[dg.RunRequest], list[dg.ExecuteInProcessResult], Any]:
    settings = Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)})
    defs = build_defs(settings)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", symbols)
    graph = defs.resolve_asset_graph()
    markets = sorted({market_for(s).name for s in symbols})
    wanted = [
        AssetKeyPartitionKey(dg.AssetKey(asset), f"{d.isoformat()}|{m}")
        for asset in ("raw_ticks", "clean_ticks", "tick_quarantine")
        for d in days
        for m in markets
    ]
    with partition_loading_context(dynamic_partitions_store=instance):
        requests = build_run_requests_with_backfill_policies(wanted, graph, instance)
    job = defs.resolve_job_def("tick_lake")
    results = [
        job.execute_in_process(
            instance=instance,
            run_config=SMALL,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: r.tags[ASSET_PARTITION_RANGE_START_TAG],
                ASSET_PARTITION_RANGE_END_TAG: r.tags[ASSET_PARTITION_RANGE_END_TAG],
            },
        )
        for r in requests
    ]
    warehouse = defs.resources["warehouse"].get_warehouse()  # type: ignore[union-attr]
    built = manifest.read(warehouse)
    warehouse.close()
    return requests, results, built


@pytest.mark.slow
def test_backfill_year_of_one_market_runs_in_twelve_runs(tmp_path: Path) -> None:
    days = [date(2023, 1, 1) + timedelta(days=i) for i in range(365)]
    requests, results, built = plan_and_run(tmp_path, ["SYNA"], days)
    assert len(requests) == 12  # at most 31 partitions per run
    assert all(r.success for r in results)
    for result in results:
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)
    assert [e.session_date for e in built if e.symbol == "SYNA"] == days  # closed days: empty
    assert {e.status for e in built if e.session_date == date(2023, 1, 1)} == {"empty"}


@pytest.mark.slow
def test_backfill_week_of_all_markets_one_run_per_market(tmp_path: Path) -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(7)]
    requests, results, built = plan_and_run(tmp_path, SYMBOLS, days)
    assert len(requests) == 2  # SYNA and SYNB trade on XNYS, SYNC on the 24/7 crypto market
    assert all(r.success for r in results)
    assert len(built) == 7 * len(SYMBOLS)

    # cost_model_params over the same range: one run per symbol as well
    defs = build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)}))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", SYMBOLS)
    calibrate = defs.resolve_job_def("calibrate_costs")
    for market in ("CRYPTO", "XNYS"):
        result = calibrate.execute_in_process(
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: f"{days[0].isoformat()}|{market}",
                ASSET_PARTITION_RANGE_END_TAG: f"{days[-1].isoformat()}|{market}",
            },
        )
        assert result.success
    warehouse = defs.resources["warehouse"].get_warehouse()  # type: ignore[union-attr]
    calibrated = warehouse.query("SELECT DISTINCT symbol FROM cost_model_params").to_pylist()
    assert sorted(r["symbol"] for r in calibrated) == SYMBOLS
