"""Symbol chunks of a market-session: planned, built without the warehouse, committed after;
one (session, symbol) build: content versions from one hash of the raw rows."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing, manifest
from quant_assets.lib.ticks.lake import Dataset, partition_prefix, table_fingerprint
from quant_assets.lib.ticks.pipeline import (
    build_chunk,
    build_session,
    build_symbol,
    commit_session,
    plan_chunks,
)
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


def test_build_symbol_versions_from_raw_hashes_equal_table_fingerprints(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    entry = build_symbol(store, date(2024, 1, 2), "SYNA", synthetic=synthetic_source(5_000, 3))
    assert entry.quarantined_rows > 0 and entry.clean_rows > 0
    for version, key in (
        (entry.raw_version, entry.raw_key),
        (entry.clean_version, entry.clean_key),
        (entry.quarantine_version, entry.quarantine_key),
    ):
        assert version == table_fingerprint(store.read_parquet(key))


def test_build_symbol_single_staged_piece_raw_copied_not_reencoded(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    piece = synthetic_source(2_000, 5)("AAPL", date(2024, 1, 2))
    key = landing.staged_key(date(2024, 1, 2), "AAPL", "f1")
    store.write_parquet(key, piece)
    entry = build_symbol(store, date(2024, 1, 2), "AAPL")
    assert store.read_bytes(entry.raw_key) == store.read_bytes(key)
    assert entry.raw_version == table_fingerprint(piece)
    assert entry.raw_rows == entry.clean_rows + entry.quarantined_rows == 2_000


def test_build_symbol_two_staged_pieces_raw_merged_by_time(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    piece = synthetic_source(2_000, 5)("AAPL", date(2024, 1, 2))
    for name, part in (("f1", piece.slice(0, 1_000)), ("f2", piece.slice(1_000))):
        store.write_parquet(landing.staged_key(date(2024, 1, 2), "AAPL", name), part)
    entry = build_symbol(store, date(2024, 1, 2), "AAPL")
    raw = store.read_parquet(entry.raw_key)
    assert raw.num_rows == 2_000 and entry.raw_version == table_fingerprint(raw)


def test_build_session_threads_same_entries_as_one_worker(tmp_path: Path) -> None:
    symbols = ["AAPL", "SYNA", "SYNB"]  # AAPL: nothing staged, an empty build
    out = []
    for workers in (1, 3):
        root = tmp_path / str(workers)
        with DuckDBWarehouse(root / "wh.duckdb") as wh:
            wh.migrate()
            build = build_session(
                ObjectStore.local(root / "lake"),
                wh,
                date(2024, 1, 2),
                "XNYS",
                symbols,
                synthetic=synthetic_source(2_000, 7),
                chunk_size=2,
                workers=workers,
            )
            out.append(
                [(e.symbol, e.raw_key, e.clean_key, e.quarantine_key) for e in build.entries]
            )
            assert [e.symbol for e in manifest.read(wh)] == symbols
    assert out[0] == out[1] and [s for s, *_ in out[0]] == symbols


def test_build_session_stale_staged_upload_swept_fresh_one_kept(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    prefix = partition_prefix(landing.STAGED, SESSION, "SYNA")
    stale, fresh = f"{prefix}/.tmp-killedlanding", f"{prefix}/.tmp-writingnow"
    for key in (stale, fresh):
        store.write_bytes(key, b"half a parquet file")
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(store.path(stale), (seven_hours_ago, seven_hours_ago))
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        wh.migrate()
        build = build_session(
            store, wh, SESSION, "XNYS", ["SYNA"], synthetic=synthetic_source(200, 0)
        )
    assert stale in build.swept and fresh not in build.swept
    assert not store.exists(stale) and store.exists(fresh)
