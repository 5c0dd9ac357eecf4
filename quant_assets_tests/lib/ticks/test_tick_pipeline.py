"""Symbol chunks of a market-session: planned, built without the warehouse, committed after."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.lake import Dataset
from quant_assets.lib.ticks.pipeline import build_chunk, commit_session, plan_chunks
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.warehouse.base import Warehouse
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

SESSION = date(2024, 1, 2)


def test_plan_chunks_three_symbols_size_two_two_ordered_chunks() -> None:
    chunks = plan_chunks(SESSION, "XNYS", ["AAPL", "MSFT", "SPY"], 2)
    assert [c.symbols for c in chunks] == [("AAPL", "MSFT"), ("SPY",)]
    assert [c.mapping_key for c in chunks] == ["d20240102_XNYS_c00000", "d20240102_XNYS_c00001"]
    assert plan_chunks(SESSION, "XNYS", [], 2) == []


def test_commit_session_chunks_built_first_committed_after_orphans_swept(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    synthetic = synthetic_source(200, 0)
    orphan = f"{Dataset.RAW}/year=2024/month=01/day=02/symbol=SYNA/part-killed.parquet"
    store.write_bytes(orphan, b"left by a killed build")
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        wh.migrate()
        built = [
            build_chunk(store, c, None, synthetic)
            for c in plan_chunks(SESSION, "XNYS", ["SYNA", "SYNB"], 1)
        ]
        assert manifest.read(wh) == []  # objects written, nothing visible yet
        build = commit_session(store, wh, SESSION, "XNYS", built)
        assert sorted(e.symbol for e in manifest.read(wh)) == ["SYNA", "SYNB"]
        assert build.swept == [orphan]
        assert build.raw_rows == sum(e.raw_rows for chunk in built for e in chunk) > 0


@pytest.mark.parametrize("backend", ["duckdb", "timescaledb"])
def test_clean_days_by_symbol_two_symbols_grouped_without_empty_sessions(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    synthetic = synthetic_source(200, 0)
    wh: Warehouse
    if backend == "duckdb":
        wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    else:
        wh = TimescaleWarehouse(request.getfixturevalue("tsdb_database"))
    with wh:
        wh.migrate()
        days = [SESSION, date(2024, 1, 3), date(2024, 1, 6)]  # the 6th is a Saturday: empty
        for day in days:
            chunk = plan_chunks(day, "XNYS", ["SYNA", "SYNB"], 2)[0]
            commit_session(store, wh, day, "XNYS", [build_chunk(store, chunk, None, synthetic)])
        assert manifest.clean_days_by_symbol(wh) == {
            "SYNA": days[:2],
            "SYNB": days[:2],
        }
