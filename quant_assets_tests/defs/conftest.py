"""A small local platform for the asset tests: an ephemeral instance, a local lake and a DuckDB
warehouse under tmp_path, with synthetic SYNA partitions already built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from quant_assets.defs.costs import cost_model_params
from quant_assets.defs.ticks import tick_lake
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

Platform = tuple[dg.DagsterInstance, dict[str, Any]]


def build_platform(
    tmp_path: Path, days: list[str], ticks_per_session: int, *, calibrate: bool = False
) -> Platform:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    resources = {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
    }
    config = {"ops": {"tick_lake": {"config": {"synthetic_ticks_per_session": ticks_per_session}}}}
    for day in days:
        assert dg.materialize(
            [tick_lake],
            partition_key=f"{day}|XNYS",
            instance=instance,
            resources=resources,
            run_config=config,
        ).success
    for day in days if calibrate else []:  # training reads the stored calibration
        assert dg.materialize(
            [cost_model_params, tick_lake],
            selection=[cost_model_params],
            partition_key=f"{day}|XNYS",
            instance=instance,
            resources=resources,
        ).success
    return instance, resources


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """Three trading days of SYNA (enough bars for a walk-forward split), scratch in tmp_path."""
    monkeypatch.setenv("QUANT_DATA_ROOT", str(tmp_path))
    days = ["2024-01-02", "2024-01-03", "2024-01-04"]
    return build_platform(tmp_path, days, 20_000, calibrate=True)
