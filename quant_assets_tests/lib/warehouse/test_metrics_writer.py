from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from quant_assets.lib.warehouse import (
    BackPressureTimeout,
    InvalidMetricError,
    MetricsWriter,
    SpoolLockedError,
    Warehouse,
)
from quant_assets.lib.warehouse.base import METRIC_SCHEMA
from quant_assets.lib.warehouse.duckdb_backend import DuckDBMetricsSink, DuckDBWarehouse
from quant_assets.lib.warehouse.metrics_writer import Spool
from quant_assets.lib.warehouse.timescale_backend import TimescaleMetricsSink, TimescaleWarehouse

REPO_ROOT = Path(__file__).resolve().parents[3]


def _closed_port_dsn() -> str:
    """A DSN nobody listens on: the 'database is down' case without touching a real server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://quant:quant@127.0.0.1:{port}/quant"


def _count(wh: Warehouse, run_id: str) -> tuple[int, int]:
    t = wh.query(
        "SELECT count(*) AS n, count(DISTINCT (name, step, time)) AS k FROM metrics "
        "WHERE run_id = :r",
        {"r": run_id},
    )
    return int(t.column("n")[0].as_py()), int(t.column("k")[0].as_py())


def _log_rows(writer: MetricsWriter, run_id: str, n: int, names: int = 5) -> None:
    for i in range(n):
        writer.log(run_id, f"train/m{i % names}", i // names, math.sin(i))


def test_writer_n_rows_written_exactly_once(
    warehouse: Warehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(warehouse)
    n = 25_000
    with MetricsWriter(warehouse.metrics_sink(), tmp_path / "spool", batch_rows=4_000) as w:
        _log_rows(w, run, n)
        w.flush()
        stats = w.stats()
    assert (stats.sent, stats.written, stats.inserted, stats.rejected) == (n, n, n, 0)
    assert stats.spooled == 0
    assert _count(warehouse, run) == (n, n)


def test_writer_spooled_batch_replayed_twice_inserted_once(
    warehouse: Warehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(warehouse)
    with MetricsWriter(warehouse.metrics_sink(), tmp_path / "spool") as w:
        _log_rows(w, run, 1_000)
    batch = warehouse.query(
        "SELECT time, run_id, name, step, value FROM metrics WHERE run_id = :r", {"r": run}
    ).cast(METRIC_SCHEMA)
    spool = Spool(tmp_path / "spool")
    spool.append(batch.to_batches()[0])  # as if the ack of a committed batch had been lost
    spool.close()
    with MetricsWriter(warehouse.metrics_sink(), tmp_path / "spool") as w2:
        assert w2.wait_committed(30)
        stats = w2.stats()
    assert (stats.replayed, stats.inserted, stats.spool_segments) == (1_000, 0, 0)
    assert _count(warehouse, run) == (1_000, 1_000)


def test_writer_invalid_metrics_raise_and_are_counted(
    duckdb_warehouse: DuckDBWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(duckdb_warehouse)
    with MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool") as w:
        with pytest.raises(InvalidMetricError, match="non-finite"):
            w.log(run, "loss", 1, float("nan"))
        with pytest.raises(InvalidMetricError, match="non-finite"):
            w.log(run, "loss", 1, float("inf"))
        with pytest.raises(InvalidMetricError, match="malformed metric name"):
            w.log(run, "bad name with spaces", 1, 1.0)
        with pytest.raises(InvalidMetricError, match="malformed metric name"):
            w.log(run, "x" * 129, 1, 1.0)
        with pytest.raises(InvalidMetricError, match="unknown run_id"):
            w.log("never-registered", "loss", 1, 1.0)
        assert w.log(run, "loss", 1, 1.0)
        w.flush()
        stats = w.stats()
    assert (stats.rejected, stats.sent, stats.written) == (5, 1, 1)
    assert _count(duckdb_warehouse, run) == (1, 1)


def test_writer_skip_mode_invalid_metrics_skipped_and_counted(
    duckdb_warehouse: DuckDBWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(duckdb_warehouse)
    with MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool", on_invalid="skip") as w:
        assert not w.log(run, "loss", 1, float("nan"))
        assert not w.log("ghost", "loss", 1, 1.0)
        assert not w.log(run, "", 1, 1.0)
        assert w.log(run, "loss", 1, 2.0)
        assert w.log_many(run, "series", [1, 2, 3], [1.0, float("nan"), 3.0]) == 2
        w.flush()
        stats = w.stats()
    assert (stats.rejected, stats.sent, stats.written) == (4, 3, 3)


def test_writer_run_registered_after_first_miss_accepted(
    duckdb_warehouse: DuckDBWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    with MetricsWriter(
        duckdb_warehouse.metrics_sink(), tmp_path / "spool", unknown_run_ttl_s=0.0
    ) as w:
        with pytest.raises(InvalidMetricError):
            w.log("late", "loss", 0, 1.0)
        register_run(duckdb_warehouse, "late")
        assert w.log("late", "loss", 0, 1.0)  # cache refreshed on miss


def test_writer_queue_full_log_raises_backpressure_timeout(
    duckdb_warehouse: DuckDBWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(duckdb_warehouse)
    sink = duckdb_warehouse.metrics_sink()
    assert isinstance(sink, DuckDBMetricsSink)
    w = MetricsWriter(
        sink, tmp_path / "spool", batch_rows=10, max_pending_rows=20, block_timeout_s=0.3
    )
    with sink._write_lock:  # a sink stuck mid-write: nothing leaves the queue
        for i in range(20):
            w.log(run, "loss", i, 1.0)
        t0 = time.monotonic()
        with pytest.raises(BackPressureTimeout):
            w.log(run, "loss", 20, 1.0)
        assert time.monotonic() - t0 >= 0.3
    w.close()
    stats = w.stats()
    assert (stats.sent, stats.written) == (20, 20)
    assert _count(duckdb_warehouse, run) == (20, 20)


def test_writer_second_writer_same_spool_raises_locked(
    duckdb_warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    with (
        MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool"),
        pytest.raises(SpoolLockedError),
    ):
        MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool")


def test_writer_db_unreachable_spools_then_next_writer_replays(
    tsdb_warehouse: TimescaleWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(tsdb_warehouse)
    down = TimescaleMetricsSink(_closed_port_dsn(), connect_timeout=1)
    with MetricsWriter(down, tmp_path / "spool", batch_rows=1_000, retry_interval_s=0.2) as w:
        _log_rows(w, run, 5_000)  # run ids cannot be checked: accepted, checked at write time
        w.flush()
        stats = w.stats()
    assert (stats.sent, stats.spooled, stats.written) == (5_000, 5_000, 0)
    assert not stats.sink_available
    assert _count(tsdb_warehouse, run) == (0, 0)

    with MetricsWriter(tsdb_warehouse.metrics_sink(), tmp_path / "spool") as w2:
        assert w2.wait_committed(30)
        assert w2.stats().replayed == 5_000
    assert _count(tsdb_warehouse, run) == (5_000, 5_000)
    assert not list((tmp_path / "spool").glob("seg-*"))


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from quant_assets.lib.warehouse import MetricsWriter
    from quant_assets.lib.warehouse.timescale_backend import TimescaleMetricsSink
    dsn, spool, run, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    w = MetricsWriter(TimescaleMetricsSink(dsn, connect_timeout=1), spool, batch_rows=500)
    for i in range(n):
        w.log(run, "train/loss", i, float(i))
    w.flush()
    print("SPOOLED", w.stats().spooled, flush=True)
    time.sleep(600)
    """)


def test_writer_killed_process_spool_replayed_on_next_start(
    tsdb_warehouse: TimescaleWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(tsdb_warehouse)
    spool = tmp_path / "spool"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, _closed_port_dsn(), str(spool), run, "3000"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.split() == ["SPOOLED", "3000"]
        os.kill(proc.pid, signal.SIGKILL)  # no close(), no cleanup: only the spool survives
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with MetricsWriter(tsdb_warehouse.metrics_sink(), spool) as w:
        assert w.wait_committed(30)
    assert _count(tsdb_warehouse, run) == (3_000, 3_000)


@pytest.mark.slow
def test_writer_db_restart_mid_run_loses_and_duplicates_nothing(
    private_tsdb_database: tuple[str, Callable[[], None]],
    register_run: Callable[..., str],
    tmp_path: Path,
) -> None:
    dsn, restart = private_tsdb_database
    with TimescaleWarehouse(dsn) as wh:
        wh.migrate()
        run = register_run(wh)
        sink = wh.metrics_sink()
    stop = threading.Event()
    w = MetricsWriter(sink, tmp_path / "spool", batch_rows=2_000, retry_interval_s=0.2)

    def produce() -> None:
        step = 0
        while not stop.is_set():
            for k in range(200):
                w.log(run, f"m{k % 4}", step, float(step))
                step += 1
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.5)
    restart()
    time.sleep(1.5)
    stop.set()
    producer.join()
    assert w.wait_committed(60)
    w.close()
    stats = w.stats()
    assert stats.sent > 10_000
    assert stats.written == stats.sent
    with TimescaleWarehouse(dsn) as wh:  # the old connection died with the restart
        assert _count(wh, run) == (stats.sent, stats.sent)


def test_upload_progress_csv_uploads_present_cells_once(
    warehouse: Warehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(warehouse)
    csv = tmp_path / "progress.csv"
    csv.write_text(
        "time/total_timesteps,time/time_elapsed,rollout/ep_rew_mean,train/loss\n"
        "64,1,10.5,\n"
        "128,2,11.0,0.25\n"
        "192,3,nan,0.20\n"
    )
    with MetricsWriter(warehouse.metrics_sink(), tmp_path / "spool", on_invalid="skip") as w:
        queued = w.upload_progress_csv(csv, run)
        w.flush()
        assert w.stats().rejected == 1  # the literal nan; empty cells are absent, not invalid
    # 3 steps x 2 time columns + 2 rewards + 2 losses
    assert queued == 10
    with MetricsWriter(warehouse.metrics_sink(), tmp_path / "spool", on_invalid="skip") as w:
        assert w.upload_progress_csv(csv, run) == 10
        w.flush()
        assert w.stats().inserted == 0  # deterministic times: a re-upload is a no-op
    t = warehouse.query(
        "SELECT step, value, time FROM metrics WHERE run_id = :r AND name = 'train/loss' "
        "ORDER BY step",
        {"r": run},
    )
    assert t.column("step").to_pylist() == [128, 192]
    assert t.column("time")[0].as_py() == datetime(2025, 1, 2, 0, 0, 2, tzinfo=UTC)


def test_spool_segments_survive_reopen_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(
            pa.RecordBatch.from_pylist(
                [
                    {
                        "time": datetime(2025, 1, 1, tzinfo=UTC),
                        "run_id": "r",
                        "name": "n",
                        "step": i,
                        "value": 1.0,
                    }
                ],
                schema=METRIC_SCHEMA,
            )
        )
    (tmp_path / "seg-00000000000000000099.arrow.tmp").write_bytes(b"partial")
    spool.close()
    again = Spool(tmp_path)
    steps = []
    while (seg := again.peek()) is not None:
        steps.append(Spool.read(seg).column("step")[0].as_py())
        again.pop(seg)
    assert steps == [0, 1, 2]
    assert not list(tmp_path.glob("*.tmp"))


def test_writer_fast_copy_path_values_round_trip_exactly(
    tsdb_warehouse: TimescaleWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    run = register_run(tsdb_warehouse, "rün-ü/7")  # multibyte run id, variable-length names
    names = ["a", "train/loss", "x" * 128, "rollout/ep_rew_mean"]
    t0 = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    expected = []
    with MetricsWriter(tsdb_warehouse.metrics_sink(), tmp_path / "spool") as w:
        for i in range(400):
            name, value = names[i % 4], (-1) ** i * i / 7.0
            w.log(run, name, i * 10**12, value, time=t0)
            expected.append({"name": name, "step": i * 10**12, "value": value, "time": t0})
    got = tsdb_warehouse.query(
        "SELECT name, step, value, time FROM metrics WHERE run_id = :r ORDER BY step", {"r": run}
    ).to_pylist()
    assert got == expected
