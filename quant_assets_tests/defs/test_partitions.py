"""A 10,000-symbol instance: the tick partitions do not grow with the symbols, and automation
evaluation and backfill creation complete (functional, no timing assertions: see
benchmarks/partition_scale.py for the figures)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import PartitionBackfill

from quant_assets.definitions import build_defs
from quant_assets.defs.partitions import session_and_market, tick_partitions
from quant_assets.lib.settings import Settings

N_SYMBOLS = 10_000
KEY = "2024-01-02|XNYS"


@pytest.mark.slow
def test_partitions_10k_symbols_keys_automation_and_backfill_complete(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    before = tick_partitions.get_num_partitions()
    instance.add_dynamic_partitions("symbols", [f"S{i:05d}" for i in range(N_SYMBOLS - 1)])
    keys = tick_partitions.get_partition_keys()
    assert len(keys) == before  # independent of the number of symbols
    assert keys[0] == "1990-01-01|XNYS" and session_and_market(KEY) == (date(2024, 1, 2), "XNYS")
    tomorrow = (datetime.now(tz=UTC).date() + timedelta(days=1)).isoformat()
    assert f"{tomorrow}|XNYS" in set(keys)  # today's (and CME's next) session are partitions

    defs = build_defs(Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)}))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.add_dynamic_partitions("symbols", ["SYNA"])  # one synthetic symbol with data
    built = defs.resolve_job_def("tick_lake").execute_in_process(
        partition_key=KEY,
        instance=instance,
        run_config={"ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": 500}}}},
    )
    assert built.success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    requested = {
        key
        for r in second.results
        if r.key == dg.AssetKey("cost_model_params")
        for key in r.true_subset.expensively_compute_partition_keys()
    }
    assert KEY in requested and len(requested) == 5  # the session and 4 trailing windows

    year = [f"{date(2024, 1, 1) + timedelta(days=i)}|XNYS" for i in range(366)]
    assets = [dg.AssetKey(a) for a in ("raw_ticks", "clean_ticks", "tick_quarantine")]
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="symbol-year",
        asset_graph=defs.resolve_asset_graph(),
        partition_names=year,
        asset_selection=assets,
        backfill_timestamp=time.time(),
        tags={"quant/symbols": "S00042"},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    stored = instance.get_backfill("symbol-year")
    assert stored is not None and stored.tags["quant/symbols"] == "S00042"
    assert stored.asset_backfill_data is not None
    target = stored.asset_backfill_data.target_subset
    assert target.num_partitions_and_non_partitioned_assets == len(year) * len(assets)
