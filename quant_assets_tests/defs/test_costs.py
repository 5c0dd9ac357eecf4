from __future__ import annotations

from pathlib import Path

import dagster as dg

from quant_assets.defs.costs import cost_model_params
from quant_assets.defs.ticks import tick_lake
from quant_assets_tests.defs.conftest import build_platform
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

SMALL = {"ops": {"tick_lake": {"config": {"synthetic_ticks_per_session": 3000}}}}


def test_cost_model_params_calibrated_from_trailing_clean_ticks_stored_in_warehouse(
    tmp_path: Path,
) -> None:
    instance, resources = build_platform(tmp_path, ["2024-01-02", "2024-01-03"], 3000)
    result = dg.materialize(
        [cost_model_params, tick_lake],
        selection=[cost_model_params],
        partition_key="2024-01-03|XNYS",
        instance=instance,
        resources=resources,
    )
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    by_symbol = metadata["by_symbol"].value
    inputs = by_symbol["SYNA"]["input_partitions"]  # type: ignore[index]
    assert [p["partition_key"] for p in inputs] == ["2024-01-02|SYNA", "2024-01-03|SYNA"]
    warehouse = resources["warehouse"].get_warehouse()  # type: ignore[attr-defined]
    rows = warehouse.query("SELECT symbol, version FROM cost_model_params").to_pylist()
    syna = by_symbol["SYNA"]  # type: ignore[index]
    assert rows == [{"symbol": "SYNA", "version": syna["version"]}]
    assert syna["provenance"]["spread"]["source"] == "quoted"
    assert syna["provenance"]["adv"]["observations"] >= 1
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "cost_provenance"
    # two sessions only: the intraday volatility estimate is flagged, so the check warns
    assert not check.passed and syna["warnings"]


def test_cost_model_params_automation_requests_partitions_whose_window_changed(
    tmp_path: Path,
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    resources = {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
    }
    defs = dg.Definitions(assets=[tick_lake, cost_model_params], resources=resources)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing has changed yet
    assert dg.materialize(
        [tick_lake],
        partition_key="2024-01-03|XNYS",
        instance=instance,
        resources=resources,
        run_config=SMALL,
    ).success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    requested = sorted(
        key
        for r in second.results
        if r.key == cost_model_params.key
        for key in r.true_subset.expensively_compute_partition_keys()
    )
    # the day itself and the four days whose trailing window contains it
    assert requested[0] == "2024-01-03|XNYS" and len(requested) == 5
