"""TimescaleDB warehouse (prod): psycopg 3 on a DSN (``QUANT_TSDB_DSN``, passed in by the caller).

The metrics path is built for ingest rate: a batch is dictionary-encoded (run_id, name) and
packed with numpy into PostgreSQL's binary COPY format in one go, copied into a per-connection
temp table, then moved into the hypertable with ``INSERT ... ON CONFLICT DO NOTHING`` so that a
replayed batch is a no-op.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import psycopg.errors
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.types.json import Jsonb

from quant_assets.lib.warehouse.base import (
    AppliedMigration,
    Capabilities,
    MetricsSink,
    SinkUnavailableError,
    SinkWriteResult,
    SqlWarehouse,
    WarehouseError,
)
from quant_assets.lib.warehouse.migrations import MigrationRunner
from quant_assets.lib.warehouse.queries import Dialect, load_query, render

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_STREAM_ROWS = 8192
_STAGE_ROW = np.dtype(
    [
        ("nfields", ">i2"),
        ("len_time", ">i4"),
        ("time", ">i8"),
        ("len_run", ">i4"),
        ("run_k", ">i4"),
        ("len_name", ">i4"),
        ("name_k", ">i4"),
        ("len_step", ">i4"),
        ("step", ">i8"),
        ("len_value", ">i4"),
        ("value", ">f8"),
    ]
)
_MIGRATION_LOCK_KEY = 0x5175616E74  # "Quant": advisory lock id for the migration runner


def _connect(dsn: str, connect_timeout: float) -> psycopg.Connection[Any]:
    conn = psycopg.connect(
        dsn,
        connect_timeout=max(1, int(connect_timeout)),
        options="-c timezone=UTC -c client_min_messages=warning",
    )
    # JSON columns come back as text, as DuckDB returns them: query() results match across backends.
    conn.adapters.register_loader("jsonb", psycopg.types.string.TextLoader)
    conn.adapters.register_loader("json", psycopg.types.string.TextLoader)
    return conn


def encode_copy_payload(batch: pa.RecordBatch) -> tuple[bytes, list[str], list[str]]:
    """Binary COPY bytes for metrics_stage plus the run_id / name dictionaries the codes index."""
    n = batch.num_rows
    runs = pc.dictionary_encode(batch.column("run_id"))
    names = pc.dictionary_encode(batch.column("name"))
    rows = np.empty(n, dtype=_STAGE_ROW)
    rows["nfields"] = 5
    rows["len_time"] = 8
    rows["len_run"] = 4
    rows["len_name"] = 4
    rows["len_step"] = 8
    rows["len_value"] = 8
    times = batch.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    rows["time"] = times - _PG_EPOCH_US
    rows["run_k"] = runs.indices.to_numpy(zero_copy_only=False)
    rows["name_k"] = names.indices.to_numpy(zero_copy_only=False)
    rows["step"] = batch.column("step").to_numpy(zero_copy_only=False)
    rows["value"] = batch.column("value").to_numpy(zero_copy_only=False)
    payload = b"".join((_COPY_HEADER, rows.tobytes(), _COPY_TRAILER))
    return payload, runs.dictionary.to_pylist(), names.dictionary.to_pylist()


def _scatter(buf: np.ndarray, offsets: np.ndarray, values: np.ndarray, dtype: str) -> None:
    """Write ``values`` as ``dtype`` bytes at per-row byte ``offsets`` of ``buf``."""
    raw = np.ascontiguousarray(values, dtype=dtype).view(np.uint8).reshape(len(offsets), -1)
    buf[offsets[:, None] + np.arange(raw.shape[1])] = raw


def _scatter_strings(
    buf: np.ndarray, offsets: np.ndarray, codes: np.ndarray, words: list[bytes]
) -> None:
    for code, word in enumerate(words):
        if word:
            rows = np.nonzero(codes == code)[0]
            buf[offsets[rows, None] + np.arange(len(word))] = np.frombuffer(word, np.uint8)


def encode_metrics_copy(batch: pa.RecordBatch, *, framed: bool = True) -> bytes:
    """Binary COPY bytes for ``metrics (time, run_id, name, step, value)``, built column-wise.

    Rows are variable-length (two text fields) but run_id/name come from tiny dictionaries, so
    every field is a vectorised scatter at computed offsets: no per-row Python work.
    ``framed=False`` leaves out the COPY header and trailer (for streaming a batch in slices)."""
    n = batch.num_rows
    runs = pc.dictionary_encode(batch.column("run_id"))
    names = pc.dictionary_encode(batch.column("name"))
    run_words = [str(x).encode("utf-8") for x in runs.dictionary.to_pylist()]
    name_words = [str(x).encode("utf-8") for x in names.dictionary.to_pylist()]
    rk = runs.indices.to_numpy(zero_copy_only=False)
    nk = names.indices.to_numpy(zero_copy_only=False)
    rlen = np.array([len(w) for w in run_words], dtype=np.int64)[rk]
    nlen = np.array([len(w) for w in name_words], dtype=np.int64)[nk]
    size = 54 + rlen + nlen - 8  # 5 length words, 3x8-byte fields, 2 text fields, field count
    head, tail = (len(_COPY_HEADER), len(_COPY_TRAILER)) if framed else (0, 0)
    start = np.empty(n, dtype=np.int64)
    start[0] = head
    np.cumsum(size[:-1], out=start[1:])
    start[1:] += head
    buf = np.empty(head + int(size.sum()) + tail, dtype=np.uint8)
    if framed:
        buf[:head] = np.frombuffer(_COPY_HEADER, np.uint8)
        buf[-tail:] = np.frombuffer(_COPY_TRAILER, np.uint8)
    eight = np.full(n, 8)
    times = batch.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    _scatter(buf, start, np.full(n, 5), ">i2")
    _scatter(buf, start + 2, eight, ">i4")
    _scatter(buf, start + 6, times - _PG_EPOCH_US, ">i8")
    _scatter(buf, start + 14, rlen, ">i4")
    _scatter_strings(buf, start + 18, rk, run_words)
    off = start + 18 + rlen
    _scatter(buf, off, nlen, ">i4")
    _scatter_strings(buf, off + 4, nk, name_words)
    off = off + 4 + nlen
    _scatter(buf, off, eight, ">i4")
    _scatter(buf, off + 4, batch.column("step").to_numpy(zero_copy_only=False), ">i8")
    _scatter(buf, off + 12, eight, ">i4")
    _scatter(buf, off + 16, batch.column("value").to_numpy(zero_copy_only=False), ">f8")
    return buf.tobytes()


def _copy(cur: psycopg.Cursor[Any], statement: str, payload: bytes) -> None:
    with cur.copy(statement) as copy:
        view = memoryview(payload)
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


class _MetricsCopier:
    """COPY + INSERT of metric batches on one connection (caller holds the connection)."""

    def __init__(self, sql_root: Path | None) -> None:
        self._sql_root = sql_root

    def _q(self, name: str) -> str:
        return load_query(name, "timescaledb", self._sql_root)

    def write(
        self, conn: psycopg.Connection[Any], batch: pa.RecordBatch, *, replay: bool = False
    ) -> SinkWriteResult:
        if not replay:
            try:
                return self._write(conn, batch, fast=True)
            except psycopg.errors.UniqueViolation:
                pass  # some keys exist already (rolled back): redo the batch idempotently
        return self._write(conn, batch, fast=False)

    def _write(
        self, conn: psycopg.Connection[Any], batch: pa.RecordBatch, *, fast: bool
    ) -> SinkWriteResult:
        n = batch.num_rows
        with conn.transaction(), conn.cursor() as cur:
            run_ids = pc.unique(batch.column("run_id")).to_pylist()
            cur.execute(self._q("existing_run_ids"), {"run_ids": run_ids})
            known = [r[0] for r in cur.fetchall()]
            mask = pc.is_in(batch.column("run_id"), value_set=pa.array(known, pa.string()))
            good = batch if len(known) == len(run_ids) else batch.filter(mask)
            rejected = n - good.num_rows
            if good.num_rows == 0:
                return SinkWriteResult(rows=n, inserted=0, rejected=rejected)
            if fast:  # no savepoint (~10% dearer): a key clash aborts the whole transaction
                # Encode slice k+1 while the server parses slice k: both cores busy.
                with cur.copy(self._q("copy_metrics")) as copy:
                    copy.write(_COPY_HEADER)
                    for off in range(0, good.num_rows, _STREAM_ROWS):
                        copy.write(encode_metrics_copy(good.slice(off, _STREAM_ROWS), framed=False))
                    copy.write(_COPY_TRAILER)
                return SinkWriteResult(rows=n, inserted=good.num_rows, rejected=rejected)
            # Every time: cheap, and a rolled-back first batch would otherwise lose the table.
            cur.execute(self._q("create_metrics_stage"))
            payload, run_dict, name_dict = encode_copy_payload(good)
            _copy(cur, self._q("copy_metrics_stage"), payload)
            cur.execute(
                self._q("insert_metrics_from_stage"), {"run_ids": run_dict, "names": name_dict}
            )
            inserted = cur.rowcount
        return SinkWriteResult(rows=n, inserted=inserted, rejected=rejected)


class TimescaleMetricsSink:
    """Metrics sink with its own connections (writer thread / validation lookups), reconnecting
    lazily; any connection failure surfaces as SinkUnavailableError so the writer spools."""

    def __init__(
        self, dsn: str, *, connect_timeout: float = 3.0, sql_root: Path | None = None
    ) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._sql_root = sql_root
        self._copier = _MetricsCopier(sql_root)
        self._write_conn: psycopg.Connection[Any] | None = None
        self._read_conn: psycopg.Connection[Any] | None = None
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def _drop(self, conn: psycopg.Connection[Any] | None) -> None:
        if conn is not None:
            with contextlib.suppress(Exception):  # the socket may be gone already
                conn.close()

    def write_batch(self, batch: pa.RecordBatch, *, replay: bool = False) -> SinkWriteResult:
        with self._write_lock:
            try:
                if self._write_conn is None or self._write_conn.closed:
                    self._write_conn = _connect(self.dsn, self.connect_timeout)
                return self._copier.write(self._write_conn, batch, replay=replay)
            except psycopg.Error as exc:
                self._drop(self._write_conn)
                self._write_conn = None
                raise SinkUnavailableError(f"metrics batch not written: {exc}") from exc

    def _read(self, name: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._read_lock:
            try:
                if self._read_conn is None or self._read_conn.closed:
                    self._read_conn = _connect(self.dsn, self.connect_timeout)
                    self._read_conn.autocommit = True
                with self._read_conn.cursor() as cur:
                    cur.execute(load_query(name, "timescaledb", self._sql_root), dict(params))
                    return cur.fetchall()
            except psycopg.Error as exc:
                self._drop(self._read_conn)
                self._read_conn = None
                raise SinkUnavailableError(f"lookup {name} failed: {exc}") from exc

    def fetch_run_ids(self) -> set[str]:
        return {str(r[0]) for r in self._read("list_run_ids", {})}

    def run_started_at(self, run_id: str) -> datetime | None:
        rows = self._read("get_run_started_at", {"run_id": run_id})
        return rows[0][0] if rows else None

    def close(self) -> None:
        with self._write_lock:
            self._drop(self._write_conn)
            self._write_conn = None
        with self._read_lock:
            self._drop(self._read_conn)
            self._read_conn = None


class TimescaleWarehouse(SqlWarehouse):
    """Warehouse on TimescaleDB/PostgreSQL through one psycopg connection (thread-locked)."""

    dialect: Dialect = "timescaledb"

    def __init__(
        self, dsn: str, *, connect_timeout: float = 10.0, sql_root: Path | None = None
    ) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.sql_root = sql_root
        self._lock = threading.RLock()
        try:
            self._conn = _connect(dsn, connect_timeout)
        except psycopg.OperationalError as exc:
            raise WarehouseError(f"cannot connect to TimescaleDB: {exc}") from exc
        self._conn.autocommit = True
        self._copier = _MetricsCopier(sql_root)

    # -- primitives
    def _execute(self, sql: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn.execute(sql, dict(params))

    def _execute_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        with self._lock, self._conn.cursor() as cur:
            cur.executemany(sql, [dict(p) for p in params])

    def _fetch(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._lock, self._conn.cursor() as cur:
            cur.execute(sql, dict(params))
            return cur.fetchall() if cur.description else []

    def _json(self, value: Mapping[str, Any]) -> Any:
        return Jsonb(dict(value))

    @contextmanager
    def _txn(self) -> Iterator[None]:
        with self._lock, self._conn.transaction():
            yield

    def _transaction(self) -> AbstractContextManager[None]:
        return self._txn()

    def _write_metric_batch(self, batch: pa.RecordBatch) -> SinkWriteResult:
        with self._lock:
            return self._copier.write(self._conn, batch, replay=True)

    # -- MigrationTarget
    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
            try:
                yield
            finally:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))

    def ensure_migrations_table(self, ddl: str) -> None:
        with self._lock:
            self._conn.execute(ddl)

    def applied_migrations(self) -> list[AppliedMigration]:
        rows = self._fetch(self._q("list_migrations"), {})
        return [AppliedMigration(int(v), str(n), str(c), a) for v, n, c, a in rows]

    def run_migration_script(
        self, sql: str, *, transactional: bool, record: AppliedMigration
    ) -> None:
        from quant_assets.lib.warehouse.migrations import split_statements

        values = {
            "version": record.version,
            "name": record.name,
            "checksum": record.checksum,
            "applied_at": record.applied_at,
        }
        with self._lock:
            if transactional:
                with self._conn.transaction():
                    self._conn.execute(sql.encode("utf-8"))  # multi-statement, no params
                    self._conn.execute(self._q("record_migration"), values)
            else:
                for stmt in split_statements(sql):
                    self._conn.execute(stmt.encode("utf-8"))
                self._conn.execute(self._q("record_migration"), values)

    # -- Warehouse
    def migrate(self) -> list[AppliedMigration]:
        return MigrationRunner(self, sql_root=self.sql_root).apply()

    def capabilities(self) -> Capabilities:
        rows = self._fetch(self._q("capabilities"), {})
        installed, available, license_, server_version = rows[0]
        has_ts = installed is not None or available is not None
        full = has_ts and (license_ or "").lower() == "timescale"
        return Capabilities(
            backend="timescaledb",
            server_version=str(server_version),
            timescaledb_version=installed,
            license=license_,
            hypertables=has_ts,
            continuous_aggregates=full,
            compression=full,
            retention_policies=full,
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        with self._lock, self._conn.cursor() as cur:
            cur.execute(render(sql, "timescaledb"), dict(params or {}))
            if cur.description is None:
                return pa.table({})
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        return pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)})

    def metrics_sink(self) -> MetricsSink:
        return TimescaleMetricsSink(self.dsn, sql_root=self.sql_root)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
