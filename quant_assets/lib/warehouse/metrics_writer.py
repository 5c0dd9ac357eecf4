"""Non-blocking metrics writer for training processes, with a disk spool so nothing is lost.

Path of a metric: ``log()`` validates and appends to column lists (no per-row objects) -> a full
or aged buffer is sealed -> the background thread turns it into one Arrow batch and hands it to
the sink (TimescaleDB: binary COPY into a staging table + ``INSERT ... ON CONFLICT DO NOTHING``;
DuckDB: the same insert from Arrow). When the sink fails, the batch is written to an fsync'ed Arrow
IPC segment in the spool directory; segments are replayed in order once the sink is back, and
the (run_id, name, step, time) key makes replays idempotent. A new writer on the same spool
directory replays what a crashed one left behind. Rows still in memory when the process is
SIGKILLed (at most ``flush_interval_s`` worth, or a full batch) are the only rows at risk.

Back-pressure: at most ``max_pending_rows`` rows may be queued (not yet committed or spooled);
``log()`` then waits up to ``block_timeout_s`` and raises :class:`BackPressureTimeout` rather
than dropping anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import re
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.warehouse.base import METRIC_SCHEMA, MetricsSink, SinkWriteResult

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[A-Za-z0-9_./-]{1,128}")
OnInvalid = Literal["raise", "skip"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class InvalidMetricError(ValueError):
    """A metric was refused before queueing (bad name, non-finite value, unknown run)."""


class BackPressureTimeout(TimeoutError):
    """The queue stayed full for ``block_timeout_s``: the sink and the spool cannot keep up."""


class WriterClosedError(RuntimeError):
    """``log()`` after ``close()``."""


class SpoolLockedError(RuntimeError):
    """Another live writer owns this spool directory."""


@dataclass(frozen=True)
class WriterStats:
    sent: int  # rows accepted by log()/log_many() and queued
    written: int  # rows committed to the sink (new + already present)
    inserted: int  # rows newly inserted
    spooled: int  # rows written to spool segments (cumulative)
    replayed: int  # rows committed from spool segments
    rejected: int  # rows refused: validation in log() + unknown run at write time
    pending_rows: int  # queued in memory, neither committed nor spooled
    spool_segments: int  # segments waiting for replay
    sink_available: bool
    last_error: str | None


def to_epoch_us(value: datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMetricError(f"metric time must be timezone-aware, got {value!r}")
    return (value - _EPOCH) // _US


# --------------------------------------------------------------------------- spool


class Spool:
    """Append-only directory of Arrow IPC segments, one per batch, named by sequence number.

    A segment is written to ``*.tmp``, fsync'ed, then renamed: a reader only ever sees complete
    segments, and a crash mid-write leaves a ``.tmp`` that the next owner deletes (its rows were
    still in memory, never acknowledged as spooled). An exclusive flock on ``.lock`` keeps two
    live writers from replaying the same segments; the kernel releases it when a process dies.
    """

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise SpoolLockedError(f"spool {self.dir} is in use by another writer") from exc
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink()
        self._segments: deque[Path] = deque(sorted(self.dir.glob("seg-*.arrow")))
        last = int(self._segments[-1].name[4:24]) if self._segments else 0
        self._next = last + 1

    def __len__(self) -> int:
        return len(self._segments)

    def append(self, batch: pa.RecordBatch) -> Path:
        final = self.dir / f"seg-{self._next:020d}.arrow"
        tmp = final.with_name(final.name + ".tmp")
        with open(tmp, "wb") as fh:
            with pa.ipc.new_file(fh, batch.schema) as ipc:
                ipc.write_batch(batch)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._next += 1
        self._segments.append(final)
        return final

    def peek(self) -> Path | None:
        return self._segments[0] if self._segments else None

    @staticmethod
    def read(path: Path) -> pa.RecordBatch:
        with pa.OSFile(str(path), "rb") as fh:
            table = pa.ipc.open_file(fh).read_all()
        table = table.cast(METRIC_SCHEMA).combine_chunks()
        batches = table.to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=METRIC_SCHEMA)

    def pop(self, path: Path) -> None:
        """Forget a replayed segment (a crash before the unlink just means an idempotent replay)."""
        assert self._segments and self._segments[0] == path
        self._segments.popleft()
        path.unlink(missing_ok=True)

    def quarantine(self, path: Path) -> None:
        """Move an unreadable segment aside (kept for inspection, never deleted)."""
        self._segments.remove(path)
        os.replace(path, path.with_name(path.name + ".corrupt"))

    def close(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1


# --------------------------------------------------------------------------- writer

_Columns = tuple[list[int], list[str], list[str], list[int], list[float]]


def _new_columns() -> _Columns:
    return ([], [], [], [], [])


def _columns_to_batch(cols: _Columns) -> pa.RecordBatch:
    t, r, n, s, v = cols
    return pa.RecordBatch.from_arrays(
        [
            pa.array(t, pa.int64()).cast(METRIC_SCHEMA.field("time").type),
            pa.array(r, pa.string()),
            pa.array(n, pa.string()),
            pa.array(s, pa.int64()),
            pa.array(v, pa.float64()),
        ],
        schema=METRIC_SCHEMA,
    )


class MetricsWriter:
    """Batched, spooling, idempotent metrics writer; see the module docstring for the design.

    ``sink`` is usually ``warehouse.metrics_sink()`` (TimescaleDB or DuckDB). ``on_invalid``
    chooses between raising :class:`InvalidMetricError` and counting-and-skipping; every rejection
    is counted in ``stats().rejected`` either way. ``on_commit(batch, commit_time_ns)`` is called
    from the writer thread after each committed batch (benchmarks measure write lag with it).
    """

    def __init__(
        self,
        sink: MetricsSink,
        spool_dir: str | Path,
        *,
        batch_rows: int = 50_000,
        max_pending_rows: int = 1_000_000,
        flush_interval_s: float = 0.25,
        block_timeout_s: float | None = 60.0,
        on_invalid: OnInvalid = "raise",
        validate_runs: bool = True,
        retry_interval_s: float = 1.0,
        unknown_run_ttl_s: float = 1.0,
        on_commit: Callable[[pa.RecordBatch, int], None] | None = None,
        close_sink: bool = True,
    ) -> None:
        if batch_rows <= 0 or max_pending_rows < batch_rows:
            raise ValueError("need 0 < batch_rows <= max_pending_rows")
        self.sink = sink
        self.spool = Spool(spool_dir)
        self.batch_rows = batch_rows
        self.max_pending_rows = max_pending_rows
        self.flush_interval_s = flush_interval_s
        self.block_timeout_s = block_timeout_s
        self.on_invalid: OnInvalid = on_invalid
        self.validate_runs = validate_runs
        self.retry_interval_s = retry_interval_s
        self.unknown_run_ttl_s = unknown_run_ttl_s
        self.on_commit = on_commit
        self._close_sink = close_sink

        self._cond = threading.Condition(threading.Lock())
        self._buf: _Columns = _new_columns()
        self._sealed: deque[_Columns] = deque()
        self._pending = 0
        self._closing = False
        self._closed = False
        self._flush_requested = False

        self._valid_names: set[str] = set()
        self._known_runs: set[str] = set()
        self._unknown_runs: dict[str, float] = {}
        self._lookup_retry_at = 0.0
        self._run_lock = threading.Lock()

        self._sink_ok = True
        self._retry_at = 0.0
        self._last_error: str | None = None
        self._sent = 0
        self._written = 0
        self._inserted = 0
        self._spooled = 0
        self._replayed = 0
        self._rejected = 0
        self._stats_lock = threading.Lock()

        self._thread = threading.Thread(target=self._run, name="metrics-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ validation

    def _reject(self, message: str, count: int, on_invalid: OnInvalid | None) -> None:
        with self._stats_lock:
            self._rejected += count
        if (on_invalid or self.on_invalid) == "raise":
            raise InvalidMetricError(message)
        log.debug("metric rejected: %s", message)

    def _check_name(self, name: object) -> str | None:
        if isinstance(name, str) and name in self._valid_names:
            return None
        if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
            return f"malformed metric name {name!r}: expected {NAME_PATTERN.pattern}"
        if len(self._valid_names) < 100_000:
            self._valid_names.add(name)
        return None

    def _check_run(self, run_id: object) -> str | None:
        if not isinstance(run_id, str) or not run_id:
            return f"run_id must be a non-empty string, got {run_id!r}"
        if run_id in self._known_runs:
            return None
        if not self.validate_runs:
            self._known_runs = self._known_runs | {run_id}  # lets the hot path take it
            return None
        with self._run_lock:
            now = _time.monotonic()
            if run_id in self._known_runs:
                return None
            if self._unknown_runs.get(run_id, 0.0) > now:
                return f"unknown run_id {run_id!r}: not registered in training_runs"
            if now < self._lookup_retry_at:
                return None  # sink unreachable: the write-time check decides
            try:
                runs = self.sink.fetch_run_ids()
            except Exception as exc:
                self._lookup_retry_at = now + self.retry_interval_s
                log.warning("cannot validate run %r now (%s); checking at write time", run_id, exc)
                return None
            self._known_runs = self._known_runs | runs
            if run_id in runs:
                self._unknown_runs.pop(run_id, None)
                return None
            self._unknown_runs[run_id] = now + self.unknown_run_ttl_s
            return f"unknown run_id {run_id!r}: not registered in training_runs"

    # ------------------------------------------------------------------ producer API

    def log(
        self,
        run_id: str,
        name: str,
        step: int,
        value: float,
        time: datetime | None = None,
        *,
        on_invalid: OnInvalid | None = None,
    ) -> bool:
        """Queue one scalar; returns False when it was rejected in ``skip`` mode."""
        if (
            type(value) is float
            and value - value == 0.0  # finite: inf - inf and nan - nan are nan
            and type(step) is int
            and name in self._valid_names
            and run_id in self._known_runs
            and not self._closing
        ):
            # Hot path (known name and run, plain float): no calls besides the clock and lock.
            t_us = _time.time_ns() // 1000 if time is None else to_epoch_us(time)
            with self._cond:
                if self._pending >= self.max_pending_rows:
                    self._wait_for_room_locked(1)
                buf = self._buf
                buf[0].append(t_us)
                buf[1].append(run_id)
                buf[2].append(name)
                buf[3].append(step)
                buf[4].append(value)
                self._pending += 1
                self._sent += 1
                if len(buf[0]) >= self.batch_rows:
                    self._seal_locked()
            return True
        if self._closing:
            raise WriterClosedError("metrics writer is closed")
        problem = self._check_name(name)
        if problem is None:
            try:
                fvalue = float(value)
                istep = int(step)
            except (TypeError, ValueError):
                problem = f"{name}: value {value!r} / step {step!r} are not numbers"
            else:
                if not math.isfinite(fvalue):
                    problem = f"{name}: non-finite value {fvalue!r} at step {istep}"
        if problem is None:
            problem = self._check_run(run_id)
        if problem is not None:
            self._reject(problem, 1, on_invalid)
            return False
        t_us = _time.time_ns() // 1000 if time is None else to_epoch_us(time)
        cond = self._cond
        with cond:
            if self._pending >= self.max_pending_rows:
                self._wait_for_room_locked(1)
            buf = self._buf
            buf[0].append(t_us)
            buf[1].append(run_id)
            buf[2].append(name)
            buf[3].append(istep)
            buf[4].append(fvalue)
            self._pending += 1
            self._sent += 1
            if len(buf[0]) >= self.batch_rows:
                self._seal_locked()
        return True

    def log_many(
        self,
        run_id: str,
        name: str,
        steps: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        times_us: Sequence[int] | np.ndarray | None = None,
        *,
        on_invalid: OnInvalid | None = None,
    ) -> int:
        """Queue a series of one metric (historical uploads); returns rows queued.

        In ``raise`` mode any non-finite value rejects the whole call (nothing is queued)."""
        if self._closing:
            raise WriterClosedError("metrics writer is closed")
        step_arr = np.asarray(steps, dtype=np.int64)
        value_arr = np.asarray(values, dtype=np.float64)
        if step_arr.shape != value_arr.shape:
            raise ValueError("steps and values differ in length")
        n = int(value_arr.size)
        problem = self._check_name(name) or self._check_run(run_id)
        if problem is not None:
            self._reject(problem, n, on_invalid)
            return 0
        finite = np.isfinite(value_arr)
        bad = n - int(finite.sum())
        if bad:
            self._reject(f"{name}: {bad} non-finite values", bad, on_invalid)
        if times_us is None:
            time_arr = np.full(n, _time.time_ns() // 1000, dtype=np.int64)
        else:
            time_arr = np.asarray(times_us, dtype=np.int64)
        step_l = step_arr[finite].tolist()
        value_l = value_arr[finite].tolist()
        time_l = time_arr[finite].tolist()
        queued = 0
        for start in range(0, len(step_l), self.batch_rows):
            chunk = slice(start, start + self.batch_rows)
            k = len(step_l[chunk])
            with self._cond:
                if self._pending + k > self.max_pending_rows:
                    self._wait_for_room_locked(k)
                buf = self._buf
                buf[0].extend(time_l[chunk])
                buf[1].extend([run_id] * k)
                buf[2].extend([name] * k)
                buf[3].extend(step_l[chunk])
                buf[4].extend(value_l[chunk])
                self._pending += k
                self._sent += k
                if len(buf[0]) >= self.batch_rows:
                    self._seal_locked()
            queued += k
        return queued

    def _wait_for_room_locked(self, rows: int) -> None:
        deadline = (
            None if self.block_timeout_s is None else _time.monotonic() + self.block_timeout_s
        )
        self._seal_locked()
        while self._pending + rows > self.max_pending_rows and not self._closed:
            remaining = None if deadline is None else deadline - _time.monotonic()
            if remaining is not None and remaining <= 0:
                raise BackPressureTimeout(
                    f"{self._pending} metric rows queued for {self.block_timeout_s}s: "
                    f"sink and spool cannot keep up (last error: {self._last_error})"
                )
            self._cond.wait(remaining)

    def _seal_locked(self) -> None:
        if self._buf[0]:
            self._sealed.append(self._buf)
            self._buf = _new_columns()
            self._cond.notify_all()

    # ------------------------------------------------------------------ control

    def flush(self, timeout: float | None = None) -> None:
        """Block until every queued row is committed or durably spooled."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._seal_locked()
            self._cond.notify_all()
            while self._pending > 0:
                if not self._thread.is_alive():
                    raise RuntimeError("metrics writer thread died; see logs")
                remaining = None if deadline is None else deadline - _time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"flush: {self._pending} rows still queued")
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))

    def wait_committed(self, timeout: float) -> bool:
        """Flush, then wait until the spool is drained too; False if still spooled at timeout."""
        deadline = _time.monotonic() + timeout
        self.flush(timeout)
        with self._cond:
            while len(self.spool) > 0 or self._pending > 0:
                remaining = deadline - _time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.notify_all()
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float | None = 60.0) -> None:
        """Flush, try once more to drain the spool, stop the thread. Spooled leftovers stay on
        disk for the next writer on the same directory."""
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._seal_locked()
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("metrics writer did not stop in time; rows may remain in memory")
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.spool.close()
        if self._close_sink:
            self.sink.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def stats(self) -> WriterStats:
        with self._cond, self._stats_lock:
            return WriterStats(
                sent=self._sent,
                written=self._written,
                inserted=self._inserted,
                spooled=self._spooled,
                replayed=self._replayed,
                rejected=self._rejected,
                pending_rows=self._pending,
                spool_segments=len(self.spool),
                sink_available=self._sink_ok,
                last_error=self._last_error,
            )

    # counters as attributes, as the platform's dashboards read them
    @property
    def sent(self) -> int:
        return self._sent

    @property
    def written(self) -> int:
        return self._written

    @property
    def spooled(self) -> int:
        return self._spooled

    @property
    def rejected(self) -> int:
        return self._rejected

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._sealed and not self._closing and not self._flush_requested:
                    self._cond.wait(self.flush_interval_s)
                if not self._sealed:
                    self._seal_locked()  # flush interval elapsed (or flush/close asked)
                cols = self._sealed.popleft() if self._sealed else None
                if not self._sealed and not self._buf[0]:
                    self._flush_requested = False
                stopping = self._closing and cols is None
            if cols is not None:
                self._handle(cols)
            self._spill_waiting()
            try:
                # One segment at a time while rows wait in memory: they are spooled behind it
                # (a cheap disk append, order kept), so a long replay after an outage never
                # fills memory and blocks log(): the backlog waits on disk, not in the trainings.
                waiting = bool(self._sealed) or bool(self._buf[0])
                self._replay(limit=1 if waiting else None)
            except Exception as exc:  # never let the thread die: rows would be stranded
                self._note_error(f"replay: {exc!r}")
            if stopping:
                return

    def _spill_waiting(self) -> None:
        """While spooled segments wait for replay, every sealed batch queues behind them."""
        while len(self.spool):
            with self._cond:
                cols = self._sealed.popleft() if self._sealed else None
            if cols is None:
                return
            self._handle(cols)  # the spool is not empty: appended to it

    def _handle(self, cols: _Columns) -> None:
        n = len(cols[0])
        batch = _columns_to_batch(cols)
        delivered = False
        while not delivered:
            if len(self.spool) == 0 and self._sink_usable():
                try:
                    result = self.sink.write_batch(batch)
                except Exception as exc:
                    self._sink_failed(exc)
                else:
                    self._committed(batch, result, replay=False)
                    delivered = True
                    break
            try:
                self.spool.append(batch)
            except OSError as exc:  # disk full or similar: keep the rows, apply back-pressure
                self._note_error(f"spool write failed: {exc!r}")
                _time.sleep(self.retry_interval_s)
                continue
            with self._stats_lock:
                self._spooled += n
            delivered = True
        with self._cond:
            self._pending -= n
            self._cond.notify_all()

    def _replay(self, limit: int | None = None) -> None:
        done = 0
        while (
            (limit is None or done < limit)
            and (seg := self.spool.peek()) is not None
            and self._sink_usable()
        ):
            done += 1
            try:
                batch = Spool.read(seg)
            except (OSError, pa.ArrowInvalid) as exc:
                self._note_error(f"unreadable spool segment {seg.name} quarantined: {exc!r}")
                self.spool.quarantine(seg)
                continue
            try:
                result = self.sink.write_batch(batch, replay=True)
            except Exception as exc:
                self._sink_failed(exc)
                return
            self._committed(batch, result, replay=True)  # counters first: waiters watch the spool
            self.spool.pop(seg)
            with self._cond:
                self._cond.notify_all()

    def _sink_usable(self) -> bool:
        return self._sink_ok or _time.monotonic() >= self._retry_at

    def _sink_failed(self, exc: BaseException) -> None:
        if self._sink_ok:
            log.warning("metrics sink unavailable, spooling to %s: %s", self.spool.dir, exc)
        self._sink_ok = False
        self._retry_at = _time.monotonic() + self.retry_interval_s
        self._note_error(repr(exc))

    def _note_error(self, message: str) -> None:
        self._last_error = message
        log.warning("metrics writer: %s", message)

    def _committed(self, batch: pa.RecordBatch, result: SinkWriteResult, *, replay: bool) -> None:
        commit_ns = _time.time_ns()
        if not self._sink_ok:
            log.info("metrics sink is back")
        self._sink_ok = True
        with self._stats_lock:
            ok_rows = result.rows - result.rejected
            self._written += ok_rows
            self._inserted += result.inserted
            self._rejected += result.rejected
            if replay:
                self._replayed += ok_rows
        if result.rejected:
            runs = pc.unique(batch.column("run_id")).to_pylist()
            log.error(
                "%d metric rows rejected at write time: run not registered (runs in batch: %s)",
                result.rejected,
                runs[:10],
            )
        if self.on_commit is not None:
            with contextlib.suppress(Exception):
                self.on_commit(batch, commit_ns)

    # ------------------------------------------------------------------ uploads

    def upload_progress_csv(
        self,
        path: str | Path,
        run_id: str,
        *,
        base_time: datetime | None = None,
        step_column: str = "time/total_timesteps",
        elapsed_column: str = "time/time_elapsed",
    ) -> int:
        """Upload an SB3 ``progress.csv`` through the normal path; returns rows queued.

        Times are ``base_time`` (default: the run's ``started_at``) plus the row's elapsed
        seconds, so uploading the same file twice inserts nothing the second time."""
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(
            str(path),
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
        )
        if base_time is None:
            base_time = self.sink.run_started_at(run_id)
            if base_time is None:
                self._reject(f"unknown run_id {run_id!r}: not registered", table.num_rows, None)
                return 0
        base_us = to_epoch_us(base_time)
        if step_column in table.column_names:
            steps = table.column(step_column).to_numpy(zero_copy_only=False)
            steps = np.nan_to_num(steps.astype(np.float64), nan=-1).astype(np.int64)
        else:
            steps = np.arange(table.num_rows, dtype=np.int64)
        if elapsed_column in table.column_names:
            elapsed = table.column(elapsed_column).to_numpy(zero_copy_only=False)
            offsets = np.nan_to_num(elapsed.astype(np.float64), nan=0.0) * 1e6
        else:
            offsets = np.zeros(table.num_rows)
        times = base_us + offsets.astype(np.int64)
        queued = 0
        for name in table.column_names:
            col = table.column(name)
            if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
                continue
            present = col.is_valid().to_numpy(zero_copy_only=False)
            values = col.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
            queued += self.log_many(run_id, name, steps[present], values[present], times[present])
        return queued

    def upload_tensorboard_scalars(self, logdir: str | Path, run_id: str) -> int:
        """Upload TensorBoard scalar events (wall time kept); needs the tensorboard package."""
        try:
            from tensorboard.backend.event_processing.event_accumulator import (  # type: ignore[import-not-found]
                EventAccumulator,
            )
        except ImportError as exc:
            raise RuntimeError("tensorboard is not installed: pip install tensorboard") from exc
        acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
        acc.Reload()
        queued = 0
        for tag in acc.Tags().get("scalars", []):
            events = acc.Scalars(tag)
            queued += self.log_many(
                run_id,
                tag,
                [e.step for e in events],
                [e.value for e in events],
                [int(e.wall_time * 1e6) for e in events],
            )
        return queued
