"""One liquid symbol's quote day built as ONE (session, symbol) partition: peak memory vs size.

Stages a synthetic AAPL session of N rows (90% quotes, 10% trades, on a cents grid, with
crossed, one-sided and off-grid rows sprinkled in) as one staged piece, then builds it with
``pipeline.build_symbol`` (what each ``tick_lake_build.build_chunk`` step runs per symbol) in a
child process per size, and reports the child's peak RSS (``os.wait4``), rows/s and CPU time.
Above ``--budget`` rows (``CleaningConfig.max_rows_in_memory``) the build is the bounded-memory
one (``streaming_build``); ``--compare-rows`` also builds that size whole in memory, for the
speed ratio and to check both give the same objects (same content-named keys).

    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/clean_partition.py            # 10M, 40M
    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/clean_partition.py \
        --sizes 10000000 40000000 80000000
    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/clean_partition.py --sizes 10000000
    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/clean_partition.py --mixed-clocks
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SESSION = date(2024, 1, 2)
SYMBOL = "AAPL"
OPEN_NS = 1_704_205_800 * 10**9  # 2024-01-02 09:30 New York
CLOSE_NS = OPEN_NS + 23_400 * 10**9
CHUNK = 1_000_000


def generate(path: Path, rows: int, seed: int = 0, mixed_clocks: bool = False) -> None:
    """Write the staged piece in 1M-row row groups (never the whole day in memory).

    ``mixed_clocks``: an exchange websocket dump's clocks: quotes stamped with the local
    receive time (``clock`` "receive", ``ts_recv`` = ``ts_event``), trades with the exchange's
    time and received 0.5-5 ms later, so receive order differs from row order and the
    prevailing quote is found on the receive clock (``receive_order``)."""
    from quant_assets.lib.ticks.schema import TICK_SCHEMA, TIMESTAMP, conform

    rng = np.random.default_rng(seed)
    mid_ticks = 15_000.0  # $150.00 in cents
    span = (CLOSE_NS - OPEN_NS) / max(1, -(-rows // CHUNK))
    with pq.ParquetWriter(path, TICK_SCHEMA, compression="zstd") as out:
        for c, start in enumerate(range(0, rows, CHUNK)):
            n = min(CHUNK, rows - start)
            lo = OPEN_NS + int(c * span)
            ts = np.sort(rng.integers(lo, lo + int(span), n))
            walk = mid_ticks + np.cumsum(rng.choice([-1.0, 0.0, 0.0, 1.0], n))
            mid_ticks = float(walk[-1])
            half = rng.choice([1.0, 1.0, 2.0], n)
            bid, ask = (walk - half) / 100, (walk + half) / 100
            trade = rng.random(n) < 0.1
            price = np.where(rng.random(n) < 0.5, bid, ask)
            bad = rng.random(n)
            bid = np.where(bad < 2e-4, ask + 0.05, bid)  # crossed
            bid = np.where((bad >= 2e-4) & (bad < 4e-4), 0.0, bid)  # one-sided
            price = np.where((bad >= 4e-4) & (bad < 5e-4), price * 1.03, price)  # outliers
            table = pa.table(
                {
                    "ts_event": pa.array(ts).cast(TIMESTAMP),
                    "symbol": pa.array(np.full(n, SYMBOL)),
                    "record_type": pa.array(np.where(trade, "trade", "quote")),
                    "price": pa.array(np.where(trade, price, np.nan), from_pandas=True),
                    "size": pa.array(np.where(trade, 100.0, np.nan), from_pandas=True),
                    "bid_price": pa.array(np.where(trade, np.nan, bid), from_pandas=True),
                    "bid_size": pa.array(np.where(trade, np.nan, 300.0), from_pandas=True),
                    "ask_price": pa.array(np.where(trade, np.nan, ask), from_pandas=True),
                    "ask_size": pa.array(np.where(trade, np.nan, 200.0), from_pandas=True),
                    "exchange": pa.array(np.full(n, "Q")),
                    "sequence": pa.array(np.arange(start, start + n)),
                    "source": pa.array(np.full(n, "bench")),
                }
            )
            if mixed_clocks:
                latency = rng.integers(500_000, 5_000_000, n)
                recv = np.where(trade, ts + latency, ts)
                table = table.append_column("ts_recv", pa.array(recv).cast(TIMESTAMP))
                clock = pa.array(np.where(trade, "", "receive")).cast(pa.string())
                clock = pc.if_else(pa.array(trade), pa.scalar(None, pa.string()), clock)
                table = table.append_column("clock", clock)
            out.write_table(conform(table))


def child(root: Path, budget: int) -> dict[str, Any]:
    from dataclasses import replace

    from quant_assets.lib.storage.object_store import ObjectStore
    from quant_assets.lib.ticks.cleaning import CleaningConfig
    from quant_assets.lib.ticks.pipeline import build_symbol

    store = ObjectStore.local(root / "lake")
    config = replace(CleaningConfig(), max_rows_in_memory=budget)
    start, cpu = time.perf_counter(), time.process_time()
    entry = build_symbol(store, SESSION, SYMBOL, config)
    return {
        "seconds": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "raw": entry.raw_rows,
        "clean": entry.clean_rows,
        "quarantined": entry.quarantined_rows,
        "reasons": entry.reasons,
        "keys": [entry.raw_key, entry.clean_key, entry.quarantine_key],
    }


def _run_child(root: Path, budget: int) -> tuple[dict[str, Any], float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(root), str(budget)],
        stdout=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"child (budget {budget}) failed")
    return json.loads(out), usage.ru_maxrss * 1024 / 1e9


def _stage(root: Path, rows: int, mixed_clocks: bool) -> None:
    from quant_assets.lib.ticks.lake import partition_prefix
    from quant_assets.lib.ticks.landing import STAGED

    piece = root / "lake" / partition_prefix(STAGED, SESSION, SYMBOL) / "bench.parquet"
    piece.parent.mkdir(parents=True, exist_ok=True)
    generate(piece, rows, mixed_clocks=mixed_clocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 40_000_000])
    parser.add_argument("--budget", type=int, default=None, help="default: the config's")
    parser.add_argument("--compare-rows", type=int, default=10_000_000, help="0: skip")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--mixed-clocks",
        action="store_true",
        help="quotes on the receive clock, trades on the exchange's (a websocket dump)",
    )
    args = parser.parse_args()
    from quant_assets.lib.ticks.clean_config import DEFAULT_MAX_ROWS_IN_MEMORY

    budget = args.budget or DEFAULT_MAX_ROWS_IN_MEMORY
    results: dict[int, tuple[dict[str, Any], float]] = {}
    for rows in sorted(set(args.sizes) | ({args.compare_rows} - {0})):
        with tempfile.TemporaryDirectory(dir=args.workdir, prefix="clean-bench-") as tmp:
            root = Path(tmp)
            start = time.perf_counter()
            _stage(root, rows, args.mixed_clocks)
            print(f"{rows:,} rows staged in {time.perf_counter() - start:.0f} s", flush=True)
            if rows in args.sizes:
                res, rss = results[rows] = _run_child(root, budget)
                print(
                    f"bounded (windows of {budget:,} rows): {res['seconds']:.1f} s wall, "
                    f"{res['cpu']:.1f} s CPU, {rows / res['seconds']:,.0f} rows/s, "
                    f"peak RSS {rss:.2f} GB; clean {res['clean']:,} + quarantined "
                    f"{res['quarantined']:,}",
                    flush=True,
                )
            if rows == args.compare_rows:
                whole, whole_rss = _run_child(root, 10**12)
                print(
                    f"in memory: {whole['seconds']:.1f} s wall, {whole['cpu']:.1f} s CPU, "
                    f"peak RSS {whole_rss:.2f} GB",
                    flush=True,
                )
                if rows in results:
                    res, _ = results[rows]
                    same = res["keys"] == whole["keys"] and res["reasons"] == whole["reasons"]
                    wall = res["seconds"] / whole["seconds"]
                    print(
                        f"bounded / in memory at {rows:,}: wall {wall:.2f}x, "
                        f"CPU {res['cpu'] / whole['cpu']:.2f}x; same objects: {same}"
                    )
    if len(results) >= 2:
        ordered = sorted(results.items())
        (small, (_, rss_small)), (big, (_, rss_big)) = ordered[0], ordered[-1]
        print(
            f"peak RSS {small:,} -> {big:,} rows: {rss_small:.2f} -> {rss_big:.2f} GB "
            f"({rss_big / rss_small:.2f}x for {big / small:.1f}x the rows; target < 2 GB, flat)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(Path(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
