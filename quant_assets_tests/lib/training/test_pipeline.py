"""stored_cost_params: training takes the stored calibration of its window, never a later one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quant_assets.lib.trading.bars import calibrate_bars, random_walk_bars
from quant_assets.lib.training.pipeline import NoCostModelError, stored_cost_params
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse


def test_stored_cost_params_latest_window_ending_by_train_end(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    early = calibrate_bars(random_walk_bars(800, seed=1, symbol="SYNA"))
    late = calibrate_bars(random_walk_bars(800, seed=2, symbol="SYNA"))
    for params, day in ((early, 3), (late, 5)):
        as_of = datetime(2024, 1, day, tzinfo=UTC)
        wh.upsert_cost_model_params("SYNA", params.version, as_of, params.model_dump(mode="json"))
    got = stored_cost_params(wh, "SYNA", datetime(2024, 1, 4, 12, tzinfo=UTC))
    assert got.params == early  # the row of Jan 5 covers data after the train split
    assert got.as_of == datetime(2024, 1, 3, tzinfo=UTC)
    assert stored_cost_params(wh, "SYNA", datetime(2024, 1, 9, tzinfo=UTC)).params == late
    with pytest.raises(NoCostModelError, match="materialize cost_model_params"):
        stored_cost_params(wh, "SYNA", datetime(2024, 1, 2, tzinfo=UTC))
    wh.close()


def test_train_split_calibration_without_stored_params_is_flagged_fallback() -> None:
    from quant_assets.lib.training.pipeline import _train_split_calibration

    bars = random_walk_bars(800, seed=3, symbol="SYNA")
    end = datetime(2024, 1, 3, 12, tzinfo=UTC)
    got = _train_split_calibration(bars, None, end, "no cost_model_params for SYNA")
    assert got.as_of == end
    assert got.params.warnings[-1].startswith("fallback: no cost_model_params for SYNA")
