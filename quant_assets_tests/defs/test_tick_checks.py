"""The whole-partition checks (coverage, quarantine rate) through Dagster, on a real build."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from quant_assets.defs.tick_checks import clean_ticks_coverage, tick_quarantine_rate
from quant_assets.defs.ticks import tick_lake
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

SMALL = {"ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": 3000}}}}
OPEN_SESSION = "2024-01-02|XNYS"


def _build(tmp_path: Path, platform: PlatformSettingsResource) -> dict[str, bool]:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    result = dg.materialize(
        [tick_lake, clean_ticks_coverage, tick_quarantine_rate],
        partition_key=OPEN_SESSION,
        instance=instance,
        resources={
            "object_store": ObjectStoreResource(root=str(tmp_path)),
            "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
            "platform": platform,
        },
        run_config=SMALL,
        raise_on_error=False,
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_tick_checks_default_thresholds_pass(tmp_path: Path) -> None:
    assert _build(tmp_path, PlatformSettingsResource()) == {
        "clean_ticks_coverage": True,
        "tick_quarantine_rate": True,
    }


def test_tick_checks_strict_thresholds_fail(tmp_path: Path) -> None:
    # The synthetic source plants bad ticks: some rows are always quarantined, so demanding
    # every raw row clean (coverage) and none quarantined (rate) must fail both checks.
    strict = PlatformSettingsResource(clean_min_share=1.0, quarantine_max_share=0.0)
    assert _build(tmp_path, strict) == {
        "clean_ticks_coverage": False,
        "tick_quarantine_rate": False,
    }
