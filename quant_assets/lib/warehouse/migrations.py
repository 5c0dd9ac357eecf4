"""Versioned SQL migrations: ``sql/<dialect>/NNNN_name.sql``, applied once, in order, recorded.

Why a checksum: an edited migration that already ran somewhere would silently diverge schemas, so
the runner refuses to continue until the edit is reverted (or shipped as a new version).

Capability variants: ``NNNN_name.<capability>.sql`` is chosen instead of ``NNNN_name.sql`` when the
server has that capability (e.g. ``continuous_aggregates``), detected at migration time. A file
whose first lines contain ``-- quant:no-transaction`` runs statement by statement in autocommit
(TimescaleDB refuses some DDL inside a transaction block).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from quant_assets.lib.warehouse.base import AppliedMigration, Capabilities, WarehouseError
from quant_assets.lib.warehouse.queries import SQL_ROOT, Dialect

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<variant>[a-z_]+))?\.sql$")
NO_TRANSACTION = "-- quant:no-transaction"


class MigrationError(WarehouseError):
    """The migration set on disk and the database disagree."""


class MigrationChecksumError(MigrationError):
    """An already-applied migration file was changed after it ran."""


@dataclass(frozen=True)
class MigrationFile:
    version: int
    name: str  # file name, recorded in schema_migrations.name
    path: Path
    variant: str | None
    sql: str
    checksum: str

    @property
    def transactional(self) -> bool:
        head = self.sql.lstrip().splitlines()[:3]
        return not any(line.strip() == NO_TRANSACTION for line in head)


@dataclass
class Migration:
    version: int
    base: MigrationFile | None = None
    variants: dict[str, MigrationFile] = field(default_factory=dict)

    def select(self, caps: Capabilities) -> MigrationFile | None:
        for capability in sorted(self.variants):
            if caps.has(capability):
                return self.variants[capability]
        return self.base

    def files(self) -> list[MigrationFile]:
        return ([self.base] if self.base else []) + list(self.variants.values())


def checksum(sql: str) -> str:
    """sha256 of the text with normalised line endings (a checkout on Windows is not an edit)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def discover(dialect: Dialect, root: Path | None = None) -> list[Migration]:
    folder = (root or SQL_ROOT) / dialect
    migrations: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_name[.capability].sql")
        text = path.read_text(encoding="utf-8")
        version = int(match["version"])
        mf = MigrationFile(version, path.name, path, match["variant"], text, checksum(text))
        mig = migrations.setdefault(version, Migration(version))
        stems = {f.name.split(".")[0] for f in mig.files()} | {path.name.split(".")[0]}
        if len(stems) > 1:
            raise MigrationError(f"version {version:04d} has several names: {sorted(stems)}")
        if mf.variant is None:
            mig.base = mf
        else:
            mig.variants[mf.variant] = mf
    return [migrations[v] for v in sorted(migrations)]


def split_statements(sql: str) -> list[str]:
    """Split a script at ``;`` ending a line, outside quotes: enough for our own DDL files."""
    statements: list[str] = []
    current: list[str] = []
    in_quote = False
    for line in sql.splitlines():
        in_quote ^= line.count("'") % 2 == 1
        current.append(line)
        if not in_quote and line.rstrip().endswith(";"):
            stmt = "\n".join(current).strip()
            if _strip_comments(stmt):
                statements.append(stmt)
            current = []
    tail = "\n".join(current).strip()
    if _strip_comments(tail):
        statements.append(tail)
    return statements


def _strip_comments(sql: str) -> str:
    return "\n".join(ln for ln in sql.splitlines() if not ln.strip().startswith("--")).strip()


class MigrationTarget(Protocol):
    """What a backend provides to the runner."""

    dialect: Dialect

    def migration_lock(self) -> AbstractContextManager[None]:
        """Serialise concurrent runners (advisory lock on PostgreSQL)."""

    def run_migration_script(
        self, sql: str, *, transactional: bool, record: AppliedMigration
    ) -> None:
        """Run ``sql`` and insert ``record`` into schema_migrations (same transaction if any)."""

    def ensure_migrations_table(self, ddl: str) -> None: ...

    def applied_migrations(self) -> list[AppliedMigration]: ...

    def capabilities(self) -> Capabilities: ...


class MigrationRunner:
    """Applies pending migrations of one dialect to one target."""

    def __init__(
        self,
        target: MigrationTarget,
        *,
        sql_root: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.target = target
        self.sql_root = sql_root or SQL_ROOT
        self._clock = clock

    def verify(self, applied: list[AppliedMigration], migrations: list[Migration]) -> None:
        by_name = {f.name: f for m in migrations for f in m.files()}
        for rec in applied:
            current = by_name.get(rec.name)
            if current is None:
                raise MigrationError(
                    f"migration {rec.version:04d} ({rec.name}) is recorded as applied but the file "
                    f"is missing from {self.sql_root / self.target.dialect}"
                )
            if current.checksum != rec.checksum:
                raise MigrationChecksumError(
                    f"migration {rec.name} was modified after it was applied "
                    f"(recorded sha256 {rec.checksum[:12]}…, file now {current.checksum[:12]}…); "
                    "revert the edit and put the change in a new migration file"
                )

    def apply(self) -> list[AppliedMigration]:
        ddl = (self.sql_root / "schema_migrations.sql").read_text(encoding="utf-8")
        migrations = discover(self.target.dialect, self.sql_root)
        done: list[AppliedMigration] = []
        with self.target.migration_lock():
            self.target.ensure_migrations_table(ddl)
            applied = self.target.applied_migrations()
            self.verify(applied, migrations)
            applied_versions = {rec.version for rec in applied}
            for mig in migrations:
                if mig.version in applied_versions:
                    continue
                chosen = mig.select(self.target.capabilities())
                if chosen is None:  # only capability variants, none of which this server has
                    continue
                record = AppliedMigration(
                    chosen.version, chosen.name, chosen.checksum, self._clock()
                )
                try:
                    self.target.run_migration_script(
                        chosen.sql, transactional=chosen.transactional, record=record
                    )
                except Exception as exc:
                    raise MigrationError(f"migration {chosen.name} failed: {exc}") from exc
                done.append(record)
        return done
