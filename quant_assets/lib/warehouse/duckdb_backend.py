"""DuckDB warehouse: one file (under QUANT_DATA_ROOT in the local deployment), same SQL as prod.

DuckDB allows one read-write process per file, so the metrics sink shares this process's
database through ``cursor()`` connections instead of opening the file again.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from quant_assets.lib.warehouse.base import (
    AppliedMigration,
    Capabilities,
    MetricsSink,
    SinkUnavailableError,
    SinkWriteResult,
    SqlWarehouse,
    dumps_json,
)
from quant_assets.lib.warehouse.migrations import MigrationRunner
from quant_assets.lib.warehouse.queries import Dialect, load_query


def _connect_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    cur = con.cursor()
    cur.execute("SET TimeZone = 'UTC'")
    return cur


def _write_batch(
    cur: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, sql_root: Path | None
) -> SinkWriteResult:
    """Insert one batch; rows of unregistered runs are counted, not written."""
    cur.register("metrics_batch", pa.Table.from_batches([batch]))
    try:
        cur.begin()
        try:
            row = cur.execute(load_query("count_unknown_run_rows", "duckdb", sql_root)).fetchone()
            rejected = int(row[0]) if row else 0
            row = cur.execute(
                load_query("insert_metrics_from_batch", "duckdb", sql_root)
            ).fetchone()
            inserted = int(row[0]) if row else 0
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    finally:
        cur.unregister("metrics_batch")
    return SinkWriteResult(rows=batch.num_rows, inserted=inserted, rejected=rejected)


class DuckDBMetricsSink:
    """Metrics sink on the warehouse's DuckDB database (one cursor per role, each locked)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql_root: Path | None = None) -> None:
        self._write_cur = _connect_cursor(con)
        self._read_cur = _connect_cursor(con)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._sql_root = sql_root

    def write_batch(self, batch: pa.RecordBatch, *, replay: bool = False) -> SinkWriteResult:
        with self._write_lock:
            try:
                return _write_batch(self._write_cur, batch, self._sql_root)
            except duckdb.IOException as exc:
                raise SinkUnavailableError(f"duckdb write failed: {exc}") from exc

    def fetch_run_ids(self) -> set[str]:
        with self._read_lock:
            rows = self._read_cur.execute(
                load_query("list_run_ids", "duckdb", self._sql_root)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def run_started_at(self, run_id: str) -> datetime | None:
        with self._read_lock:
            row = self._read_cur.execute(
                load_query("get_run_started_at", "duckdb", self._sql_root), {"run_id": run_id}
            ).fetchone()
        if row is None:
            return None
        value: datetime = row[0]
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._write_cur.close()
            self._read_cur.close()


class WarehouseBusyError(TimeoutError):
    """Another process held the DuckDB file for longer than we were willing to wait."""


def connect_waiting(path: str, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (with backoff) while another process holds its write lock.

    DuckDB admits one writing process per file; in the local deployment a sensor and a run's
    step can reach for it at the same moment, and either should wait rather than fail.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"{path} stayed locked for {timeout_s:.0f} s: {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class DuckDBWarehouse(SqlWarehouse):
    """Warehouse in a local DuckDB file; the caller decides the path (QUANT_DATA_ROOT/...)."""

    dialect: Dialect = "duckdb"

    def __init__(
        self, path: str | Path, *, sql_root: Path | None = None, lock_timeout_s: float = 120.0
    ) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = connect_waiting(str(path), lock_timeout_s)
        self._con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.RLock()
        self._in_txn = False
        self.sql_root = sql_root

    # -- primitives
    def _execute(self, sql: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            self._con.execute(sql, dict(params))

    def _execute_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            for p in params:  # duckdb's executemany takes positional params only
                self._con.execute(sql, dict(p))

    def _fetch(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql, dict(params)).fetchall()

    def _json(self, value: Mapping[str, Any]) -> Any:
        return dumps_json(value)

    def upsert_tick_manifest(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement over an Arrow batch: row-by-row upserts of 10,000 symbols take
        seconds in DuckDB, a batch takes milliseconds."""
        if not rows:
            return
        batch = pa.Table.from_pylist([dict(r) for r in rows])
        with self._txn():
            self._con.register("manifest_batch", batch)
            try:
                self._con.execute(self._q("upsert_tick_manifest_batch"))
            finally:
                self._con.unregister("manifest_batch")

    @contextmanager
    def _txn(self) -> Iterator[None]:
        with self._lock:
            if self._in_txn:
                yield
                return
            self._con.begin()
            self._in_txn = True
            try:
                yield
            except BaseException:
                self._con.rollback()
                raise
            else:
                self._con.commit()
            finally:
                self._in_txn = False

    def _transaction(self) -> AbstractContextManager[None]:
        return self._txn()

    def _write_metric_batch(self, batch: pa.RecordBatch) -> SinkWriteResult:
        with self._lock:
            return _write_batch(self._con, batch, self.sql_root)

    # -- MigrationTarget
    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        with self._lock:  # the file itself is exclusive to this process
            yield

    def ensure_migrations_table(self, ddl: str) -> None:
        with self._lock:
            self._con.execute(ddl)

    def applied_migrations(self) -> list[AppliedMigration]:
        rows = self._fetch(self._q("list_migrations"), {})
        return [
            AppliedMigration(int(v), str(n), str(c), a if a.tzinfo else a.replace(tzinfo=UTC))
            for v, n, c, a in rows
        ]

    def run_migration_script(
        self, sql: str, *, transactional: bool, record: AppliedMigration
    ) -> None:
        with self._txn():  # DuckDB runs any DDL inside a transaction
            self._con.execute(sql)
            self._execute(
                self._q("record_migration"),
                {
                    "version": record.version,
                    "name": record.name,
                    "checksum": record.checksum,
                    "applied_at": record.applied_at,
                },
            )

    # -- Warehouse
    def migrate(self) -> list[AppliedMigration]:
        return MigrationRunner(self, sql_root=self.sql_root).apply()

    def capabilities(self) -> Capabilities:
        return Capabilities(backend="duckdb", server_version=duckdb.__version__)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        from quant_assets.lib.warehouse.queries import render

        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "extra copy" hint on DB-API results
            return self._con.execute(render(sql, "duckdb"), dict(params or {})).to_arrow_table()

    def metrics_sink(self) -> MetricsSink:
        return DuckDBMetricsSink(self._con, self.sql_root)

    def close(self) -> None:
        with self._lock:
            self._con.close()
