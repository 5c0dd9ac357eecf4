"""The manifest is the commit point of a tick build: a build killed mid-write (a real process,
SIGKILL) leaves the previous version readable, and the next build replaces it and sweeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from quant_assets.lib.scratch import scratch_root
from quant_assets.lib.storage.object_store import ObjectStore, parquet_num_rows
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.ticks.pipeline import build_session
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

REPO = Path(__file__).resolve().parents[3]
SESSION = date(2024, 1, 2)
SYMBOLS = ["SYNA", "SYNB"]

BUILD_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import date
    from quant_assets.lib.storage.object_store import ObjectStore
    from quant_assets.lib.ticks.cleaning import CleaningConfig
    from quant_assets.lib.ticks.pipeline import build_session
    from quant_assets.lib.ticks.synthetic_source import synthetic_source
    from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

    root, db, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    max_rows = int(sys.argv[5])
    wh = DuckDBWarehouse(db)
    wh.migrate()
    build_session(
        ObjectStore.local(root), wh, date(2024, 1, 2), "XNYS", ["SYNA", "SYNB"],
        synthetic=synthetic_source(n, seed), chunk_size=2,
        cleaning=CleaningConfig(max_rows_in_memory=max_rows) if max_rows else None,
    )
    """)


def build(root: Path, db: Path, seed: int, n: int) -> None:
    with DuckDBWarehouse(db) as wh:
        wh.migrate()
        build_session(
            ObjectStore.local(root),
            wh,
            SESSION,
            "XNYS",
            SYMBOLS,
            synthetic=synthetic_source(n, seed),
            chunk_size=2,
        )


def current(db: Path) -> list[manifest.ManifestEntry]:
    with DuckDBWarehouse(db) as wh:
        return manifest.read(wh)


@pytest.mark.parametrize("max_rows", [0, 20_000], ids=["in_memory", "bounded"])
def test_manifest_build_killed_mid_write_keeps_previous_version_then_rebuilds(
    tmp_path: Path, max_rows: int
) -> None:
    """``bounded``: the partitions are built in windows (``streaming_build``), whose local
    spill files the kill leaves behind until the next build sweeps them."""
    root, db = tmp_path / "lake", tmp_path / "wh.duckdb"
    store = ObjectStore.local(root)
    build(root, db, seed=0, n=2_000)
    before = current(db)
    assert [e.symbol for e in before] == SYMBOLS
    objects_before = set(store.list(""))

    # A second build with other content, big enough to take seconds per symbol; killed as soon
    # as its first new object lands, i.e. before its chunk's manifest commit.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)}
    args = [sys.executable, "-c", BUILD_SCRIPT, str(root), str(db)]
    proc = subprocess.Popen([*args, "1", "400000", str(max_rows)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not set(store.list("ticks_raw")) - objects_before and not (
            max_rows and list(scratch_root(scratch).glob("*/*"))
        ):
            assert proc.poll() is None, "build finished before it could be killed"
            assert time.monotonic() < deadline, "no new object within 120 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # Readers see exactly the previous version; the killed build's objects are orphans.
    assert current(db) == before
    for entry in before:
        assert parquet_num_rows(store, entry.clean_key) == entry.clean_rows
    orphans = set(store.list("")) - objects_before
    assert orphans or max_rows
    assert not max_rows or list(scratch_root(scratch).iterdir())  # the kill left its spill
    ticks, refs = load_clean_ticks(store, before)
    assert [r.data_version for r in refs] == [e.clean_version for e in before]
    assert ticks.num_rows == sum(e.clean_rows for e in before)

    # The next build replaces the version and sweeps every unreferenced object and spill.
    subprocess.run([*args, "2", "40000", str(max_rows)], env=env, check=True)
    after = current(db)
    assert [e.raw_version for e in after] != [e.raw_version for e in before]
    referenced = {key for e in after for key in e.keys().values()}
    assert set(store.list("")) == referenced
    assert not max_rows or not list(scratch_root(scratch).iterdir())


def test_manifest_commit_and_read_on_timescaledb(tsdb_database: str, tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path / "lake")
    with TimescaleWarehouse(tsdb_database) as wh:
        wh.migrate()
        built = build_session(
            store, wh, SESSION, "XNYS", SYMBOLS, synthetic=synthetic_source(500, 0), chunk_size=1
        )
        again = build_session(
            store, wh, SESSION, "XNYS", ["SYNA"], synthetic=synthetic_source(500, 1)
        )
        rows = manifest.read(wh, market="XNYS", start=SESSION, end=SESSION)
        assert [e.symbol for e in rows] == SYMBOLS
        assert rows[0] == again.entries[0]  # a per-symbol rebuild replaced only SYNA
        assert rows[1] == built.entries[1]
        assert manifest.clean_days(wh, "SYNB") == [SESSION]
        assert manifest.read(wh, symbol="SYNA", start=date(2024, 1, 3)) == []


def test_manifest_entry_row_round_trip(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as wh:
        wh.migrate()
        build = build_session(
            ObjectStore.local(tmp_path / "lake"),
            wh,
            SESSION,
            "XNYS",
            ["SYNA"],
            synthetic=synthetic_source(300, 0, bad_tick_rate=0.01),
        )
        (entry,) = manifest.read(wh)
    assert entry == build.entries[0] and entry.balanced and entry.reasons


def _entry_with_possible_duplicates(n: int) -> manifest.ManifestEntry:
    return manifest.ManifestEntry(
        session_date=SESSION,
        symbol="AAPL",
        market="XNYS",
        status=manifest.ManifestStatus.BUILT,
        raw_rows=10,
        clean_rows=10,
        quarantined_rows=0,
        raw_version="a",
        clean_version="b",
        quarantine_version="c",
        raw_key="ticks_raw/x",
        clean_key="ticks_clean/x",
        quarantine_key="tick_quarantine/x",
        possible_duplicates=n,
    )


def test_manifest_possible_duplicates_stored_on_both_backends(
    tsdb_database: str, tmp_path: Path
) -> None:
    with DuckDBWarehouse(tmp_path / "wh.duckdb") as duck, TimescaleWarehouse(tsdb_database) as ts:
        for wh in (duck, ts):
            wh.migrate()
            manifest.commit(wh, [_entry_with_possible_duplicates(7)])
            manifest.commit(wh, [_entry_with_possible_duplicates(3)])  # a rebuild replaces it
            (entry,) = manifest.read(wh, symbol="AAPL")
            assert entry.possible_duplicates == 3
