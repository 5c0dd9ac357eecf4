"""A research read through the manifest costs about a plain Parquet read.

Content versions are recorded in the manifest at build time, so ``load_clean_ticks`` reads the
objects and never re-hashes them (before the manifest it fingerprinted every table: ~13x).
Builds N sessions of one synthetic symbol, then times ``load_clean_ticks`` against reading the
same objects with pyarrow. Target: <= 1.2x.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/load_clean_ticks.py [--sessions 20 --ticks 200000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.dataset import load_clean_ticks
from quant_assets.lib.ticks.pipeline import build_session
from quant_assets.lib.ticks.synthetic_source import synthetic_source
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ObjectStore.local(Path(tmp) / "lake")
        with DuckDBWarehouse(Path(tmp) / "wh.duckdb") as wh:
            wh.migrate()
            day = date(2024, 1, 1)
            for i in range(args.sessions):  # SYNC trades 24/7: every day is a session
                build_session(
                    store,
                    wh,
                    day + timedelta(days=i),
                    "CRYPTO",
                    ["SYNC"],
                    synthetic=synthetic_source(args.ticks, 0),
                )
            entries = manifest.read(wh, symbol="SYNC")

            def plain() -> pa.Table:
                return pa.concat_tables([store.read_parquet(e.clean_key) for e in entries])

            def managed() -> pa.Table:
                return load_clean_ticks(store, manifest.read(wh, symbol="SYNC"))[0]

            timings: dict[str, list[float]] = {"plain": [], "load_clean_ticks": []}
            for _ in range(args.repeat):
                for name, fn in (("plain", plain), ("load_clean_ticks", managed)):
                    t = time.perf_counter()
                    rows = fn().num_rows
                    timings[name].append(time.perf_counter() - t)
    plain_s = statistics.median(timings["plain"])
    managed_s = statistics.median(timings["load_clean_ticks"])
    print(f"{args.sessions} sessions, {rows:,} clean rows (median of {args.repeat})")
    print(f"plain Parquet read      {plain_s * 1e3:8.1f} ms")
    print(f"load_clean_ticks        {managed_s * 1e3:8.1f} ms (manifest query included)")
    print(f"ratio                   {managed_s / plain_s:8.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
