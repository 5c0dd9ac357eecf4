"""Builds of one (session, symbol): content versions derived from one hash of the raw rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing, manifest
from quant_assets.lib.ticks.lake import table_fingerprint
from quant_assets.lib.ticks.pipeline import build_session, build_symbol
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse


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
