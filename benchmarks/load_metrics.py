"""Load test: N simulated training runs log metrics through one MetricsWriter, the database
restarts mid-run, and nothing may be lost or duplicated.

Run: ``.venv/bin/python benchmarks/load_metrics.py --runs 8 --rate 4000 --duration 20
--restart-at 8 --outage 5 [--dsn DSN]``. ``--restart-at`` stops the DSN's server
(``scripts/services/timescaledb.sh``), keeps it down ``--outage`` seconds and starts it again:
point ``--dsn`` at a server of your own (``QUANT_TSDB_PORT=55471 scripts/services/timescaledb.sh
start``), never one shared with running tests (55432 is the shared one, 55439 the tests' private
one). README "Load" has the hour-long run.
Prints samples sent, written (counted in the database), dropped (must be 0), duplicates
(must be 0) and the write lag from ``log()`` to commit (p50/p99/max).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlparse

import numpy as np
import psycopg
import pyarrow as pa
from metrics_ingest import REPO_ROOT, default_dsn, fresh_database

from quant_assets.lib.warehouse import MetricsWriter, TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse


class LagRecorder:
    """on_commit hook: per-row lag = commit time - the time log() stamped on the row.

    Keeps every ``sample_every``-th row's lag so that an hour-long run (10^8 rows) stays within
    a few hundred MB; the percentiles of a systematic 1-in-k sample are unbiased here because
    rows arrive interleaved from all runs.
    """

    def __init__(self, sample_every: int = 1) -> None:
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._every = max(1, sample_every)

    def __call__(self, batch: pa.RecordBatch, commit_ns: int) -> None:
        times = batch.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
        lag_us = (commit_ns // 1000 - times)[:: self._every]
        with self._lock:
            self._chunks.append(lag_us)

    def lags_ms(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._chunks) / 1000.0 if self._chunks else np.zeros(0)


def restart_server(dsn: str, outage_s: float = 0.0) -> float:
    """Stop the DSN's server, keep it down ``outage_s`` seconds, start it; returns the downtime."""
    port = urlparse(dsn).port or 5432
    env = {**os.environ, "QUANT_TSDB_PORT": str(port)}
    script = str(REPO_ROOT / "scripts" / "services" / "timescaledb.sh")
    t0 = time.perf_counter()
    for action in ("stop", "start"):
        subprocess.run(
            ["bash", script, action], env=env, cwd=REPO_ROOT, check=True, capture_output=True
        )
        if action == "stop":
            time.sleep(outage_s)
    return time.perf_counter() - t0


def report_progress(writer: MetricsWriter, stop: threading.Event, t0: float, every: float) -> None:
    """One line per interval, so an hour-long run shows how it is going (and survives a kill)."""
    while not stop.wait(every):
        st = writer.stats()
        print(
            f"[{time.perf_counter() - t0:7.0f}s] sent {st.sent:,} written {st.written:,} "
            f"pending {st.pending_rows:,} spooled {st.spooled:,} "
            f"replayed {st.replayed:,} rejected {st.rejected:,}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--rate", type=float, default=5_000, help="samples/s per run")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of logging")
    parser.add_argument("--restart-at", type=float, default=None, help="seconds into the run")
    parser.add_argument(
        "--outage", type=float, default=0.0, help="seconds the database stays down at the restart"
    )
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--flush-interval", type=float, default=0.1)
    parser.add_argument(
        "--lag-sample", type=int, default=1, help="keep every k-th row's lag (long runs)"
    )
    parser.add_argument(
        "--progress-every", type=float, default=0.0, help="print writer stats every N s (0: off)"
    )
    args = parser.parse_args(argv)
    dsn = args.dsn or default_dsn()

    with fresh_database(dsn) as db, tempfile.TemporaryDirectory() as spool:
        run_ids = [f"load-{i}" for i in range(args.runs)]
        with TimescaleWarehouse(db) as wh:
            for run_id in run_ids:
                wh.upsert_training_run(
                    TrainingRun(run_id, "ppo", started_at=datetime.now(tz=UTC), status="running")
                )
            sink = wh.metrics_sink()
        lags = LagRecorder(args.lag_sample)
        writer = MetricsWriter(
            sink,
            spool,
            batch_rows=args.batch_rows,
            flush_interval_s=args.flush_interval,
            retry_interval_s=0.2,
            on_commit=lags,
        )
        stop = threading.Event()
        sent = [0] * args.runs

        def simulate(idx: int) -> None:
            """One training run: bursts every 10 ms at the target rate, 8 metric names."""
            run_id, names = run_ids[idx], [f"train/m{k}" for k in range(8)]
            t_start = time.perf_counter()
            step = 0
            while not stop.is_set():
                due = int((time.perf_counter() - t_start) * args.rate)
                while step < due:
                    writer.log(run_id, names[step % 8], step, float(step) * 0.5)
                    step += 1
                time.sleep(0.01)
            sent[idx] = step

        threads = [threading.Thread(target=simulate, args=(i,)) for i in range(args.runs)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        if args.progress_every > 0:
            threading.Thread(
                target=report_progress, args=(writer, stop, t0, args.progress_every), daemon=True
            ).start()
        restart_s = None
        if args.restart_at is not None:
            time.sleep(max(0.0, args.restart_at))
            restart_s = restart_server(dsn, args.outage)
            print(
                f"[{time.perf_counter() - t0:7.0f}s] database back after {restart_s:.1f}s down",
                flush=True,
            )
        time.sleep(max(0.0, args.duration - (time.perf_counter() - t0)))
        stop.set()
        for t in threads:
            t.join()
        logged_s = time.perf_counter() - t0
        drained = writer.wait_committed(180)
        writer.close()
        stats = writer.stats()

        with psycopg.connect(db) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT (run_id, name, step, time)) FROM metrics"
            ).fetchone()
        assert row is not None
        written, distinct = int(row[0]), int(row[1])
        total_sent = sum(sent)
        lag = lags.lags_ms()
        p50, p99, pmax = np.percentile(lag, [50, 99, 100]) if lag.size else (0.0, 0.0, 0.0)

    print(
        f"runs {args.runs} x {args.rate:,.0f}/s for {logged_s:.1f}s "
        f"(target {args.runs * args.rate:,.0f} samples/s)"
    )
    if restart_s is not None:
        print(f"database restarted at {args.restart_at:.1f}s (down {restart_s:.1f}s)")
    print(f"samples sent        {total_sent:>12,}   (writer counted {stats.sent:,})")
    print(f"written (in DB)     {written:>12,}")
    print(f"dropped             {total_sent - written:>12,}   (must be 0)")
    print(f"duplicates          {written - distinct:>12,}   (must be 0)")
    print(f"spooled / replayed  {stats.spooled:>12,} / {stats.replayed:,}   drained: {drained}")
    print(f"write lag ms        p50 {p50:,.0f}   p99 {p99:,.0f}   max {pmax:,.0f}")
    ok = total_sent == written == distinct and stats.rejected == 0
    print("RESULT", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
