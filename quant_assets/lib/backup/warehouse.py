"""Warehouse (TimescaleDB) backup as one gzip'd ``COPY ... TO STDOUT`` per table plus a
manifest, in the object store under ``backups/warehouse/<stamp>/``.

Why not pg_dump: the dump must restore into a database created by the project's own
migrations (hypertables, continuous aggregates, policies), on whatever TimescaleDB version the
re-created stack runs; a row-level COPY of the user tables is independent of both, and the
same object store that holds the lake holds it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from quant_assets.lib.storage.object_store import ObjectStore

PREFIX = "backups/warehouse"
SKIP_TABLES = frozenset({"schema_migrations"})  # re-created by the migrations themselves


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class TableDump:
    table: str
    columns: tuple[str, ...]
    rows: int
    key: str
    sha256: str


@dataclass(frozen=True)
class BackupManifest:
    stamp: str
    created_at: datetime
    migrations: tuple[str, ...]  # versions applied in the source database
    tables: tuple[TableDump, ...]

    @property
    def key(self) -> str:
        return f"{PREFIX}/{self.stamp}/manifest.json"

    def to_json(self) -> str:
        return json.dumps(
            {
                "stamp": self.stamp,
                "created_at": self.created_at.isoformat(),
                "migrations": list(self.migrations),
                "tables": [
                    {
                        "table": t.table,
                        "columns": list(t.columns),
                        "rows": t.rows,
                        "key": t.key,
                        "sha256": t.sha256,
                    }
                    for t in self.tables
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> BackupManifest:
        raw = json.loads(text)
        return cls(
            stamp=raw["stamp"],
            created_at=datetime.fromisoformat(raw["created_at"]),
            migrations=tuple(raw["migrations"]),
            tables=tuple(
                TableDump(t["table"], tuple(t["columns"]), int(t["rows"]), t["key"], t["sha256"])
                for t in raw["tables"]
            ),
        )


def _user_tables(conn: psycopg.Connection) -> list[tuple[str, tuple[str, ...]]]:
    """Plain tables (hypertables included) in ``public``, with their columns in order."""
    rows = conn.execute("""
        SELECT c.relname, array_agg(a.attname ORDER BY a.attnum)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        GROUP BY c.relname ORDER BY c.relname
        """).fetchall()
    return [(name, tuple(cols)) for name, cols in rows if name not in SKIP_TABLES]


def backup_warehouse(
    dsn: str, store: ObjectStore, *, now: datetime | None = None
) -> BackupManifest:
    """Dump every user table of ``dsn`` into ``store``; the manifest is written last, so a
    backup without one is incomplete and never restored."""
    created = now or datetime.now(tz=UTC)
    stamp = created.strftime("%Y%m%dT%H%M%S%fZ")
    dumps: list[TableDump] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one consistent view
        migrations = tuple(
            str(r[0])
            for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        )
        for table, columns in _user_tables(conn):
            buf = bytearray()
            copy_sql = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT WITH (FORMAT csv)").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
            )
            with conn.cursor().copy(copy_sql) as copy:
                for chunk in copy:
                    buf += chunk
            rows = _csv_rows(conn, table)
            data = gzip.compress(bytes(buf), mtime=0)
            key = f"{PREFIX}/{stamp}/{table}.csv.gz"
            store.write_bytes(key, data)
            dumps.append(TableDump(table, columns, rows, key, hashlib.sha256(data).hexdigest()))
    manifest = BackupManifest(stamp, created, migrations, tuple(dumps))
    store.write_bytes(manifest.key, manifest.to_json().encode())
    return manifest


def _csv_rows(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def latest_backup(store: ObjectStore) -> BackupManifest:
    manifests = sorted(k for k in store.list(PREFIX) if k.endswith("/manifest.json"))
    if not manifests:
        raise BackupError(f"no complete warehouse backup under {store.uri(PREFIX)}")
    return BackupManifest.from_json(store.read_bytes(manifests[-1]).decode())


def restore_warehouse(dsn: str, store: ObjectStore, manifest: BackupManifest) -> dict[str, int]:
    """COPY every table of ``manifest`` into ``dsn`` (already migrated, tables empty); returns
    rows per table, each checked against the manifest."""
    restored: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        applied = {
            str(r[0]) for r in conn.execute("SELECT version FROM schema_migrations").fetchall()
        }
        missing = [m for m in manifest.migrations if m not in applied]
        if missing:
            raise BackupError(f"target database lacks migrations {missing}: migrate it first")
        for dump in manifest.tables:
            data = store.read_bytes(dump.key)
            if hashlib.sha256(data).hexdigest() != dump.sha256:
                raise BackupError(f"{dump.key}: checksum mismatch")
            non_empty = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(dump.table))
            ).fetchone()
            if non_empty and non_empty[0]:
                raise BackupError(f"table {dump.table} is not empty: restore into a fresh database")
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                sql.Identifier(dump.table), sql.SQL(", ").join(map(sql.Identifier, dump.columns))
            )
            with conn.cursor().copy(copy_sql) as copy:
                copy.write(gzip.decompress(data))
            rows = _csv_rows(conn, dump.table)
            if rows != dump.rows:
                raise BackupError(f"{dump.table}: restored {rows} rows, backup has {dump.rows}")
            restored[dump.table] = rows
        conn.commit()
    return restored
