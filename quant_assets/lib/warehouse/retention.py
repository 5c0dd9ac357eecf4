"""Metrics retention: move metrics older than N days to Parquet in the object store, then delete.

Each range (a TimescaleDB chunk, or a UTC day on DuckDB) goes export → verify → delete on its
own, so a crash anywhere loses nothing and a re-run finishes the job:

* not exported yet: written to ``metrics_archive/year=YYYY/month=MM/day=DD/chunk=<label>.parquet``,
  read back, its row count checked against the range's;
* exported but not deleted (crash, or a failed delete): the file's row count and time span are
  re-checked against the range, nothing is rewritten, then the range is deleted;
* a file exists but the range changed since (late rows): the file is rewritten with the union of
  both, so no row archived earlier is lost and none appears twice;
* exported and deleted: the range is no longer listed, so it is skipped.

The delete re-counts the range under a lock that blocks inserts (TimescaleDB) or in the same
transaction (DuckDB); if rows arrived after the export it does not delete, and the next run
merges them into the file. TimescaleDB deletes with ``drop_chunks`` on exactly that chunk.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.storage.object_store import ObjectStore, parquet_num_rows
from quant_assets.lib.warehouse.base import (
    METRIC_SCHEMA,
    SqlWarehouse,
    Warehouse,
    WarehouseError,
    require_aware,
)
from quant_assets.lib.warehouse.queries import SQL_ROOT

ARCHIVE_PREFIX = "metrics_archive"
DEFAULT_OLDER_THAN_DAYS = 90
_KEY_COLUMNS = ["run_id", "name", "time", "step"]

Action = Literal["exported", "reverified", "merged", "empty"]


class RetentionError(WarehouseError):
    """An archive file or a delete did not match the range it stands for; nothing was deleted."""


@dataclass(frozen=True)
class ArchiveRange:
    """One unit of retention: ``[start, end)`` of the metrics table."""

    label: str  # chunk name (TimescaleDB) or the day range (DuckDB)
    start: datetime
    end: datetime
    chunk: str | None = None  # schema-qualified chunk (TimescaleDB)

    @property
    def key(self) -> str:
        return archive_key(self.start, self.label)


@dataclass(frozen=True)
class RangeOutcome:
    range: ArchiveRange
    action: Action
    rows: int  # rows of the range now in the archive file (and deleted, if ``deleted``)
    file_rows: int  # rows in the archive file (more than ``rows`` after a merge)
    deleted: bool
    note: str = ""


@dataclass
class RetentionReport:
    cutoff: datetime
    outcomes: list[RangeOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_archived(self) -> int:
        return sum(o.rows for o in self.outcomes if o.deleted)

    @property
    def ranges_deleted(self) -> int:
        return sum(1 for o in self.outcomes if o.deleted)

    @property
    def ranges_pending(self) -> list[str]:
        """Ranges exported but left in place (changed during the run): the next run retries."""
        return [o.range.label for o in self.outcomes if not o.deleted]

    @property
    def files(self) -> list[str]:
        return [o.range.key for o in self.outcomes if o.action != "empty"]

    def summary(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "ranges_deleted": self.ranges_deleted,
            "rows_archived": self.rows_archived,
            "ranges_pending": self.ranges_pending,
            "actions": {a: sum(1 for o in self.outcomes if o.action == a) for a in _ACTIONS},
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_archived / self.seconds) if self.seconds > 0 else 0,
        }


_ACTIONS: tuple[Action, ...] = ("exported", "reverified", "merged", "empty")


def retention_cutoff(now: datetime, older_than_days: int) -> datetime:
    """Start of the UTC day ``older_than_days`` before ``now``: whole days, the same on both
    backends (TimescaleDB chunks of 1 day start at UTC midnight)."""
    require_aware(now, "now")
    if older_than_days < 0:
        raise ValueError(f"older_than_days must be >= 0, got {older_than_days}")
    day = (now.astimezone(UTC) - timedelta(days=older_than_days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def archive_key(start: datetime, label: str) -> str:
    """Hive-style key of a range's archive file, partitioned by the range's UTC start day."""
    s = start.astimezone(UTC)
    return f"{ARCHIVE_PREFIX}/year={s:%Y}/month={s:%m}/day={s:%d}/chunk={label}.parquet"


def archive_old_metrics(
    warehouse: Warehouse,
    store: ObjectStore,
    *,
    older_than_days: int = DEFAULT_OLDER_THAN_DAYS,
    now: datetime | None = None,
    after_export: Callable[[ArchiveRange], None] | None = None,
    lock_timeout: str = "10s",
) -> RetentionReport:
    """Archive and delete every metrics range that ends before the cutoff; safe to re-run.

    ``after_export`` runs after a range's file is verified and before the range is deleted
    (tests raise from it to simulate a crash there).
    """
    if not isinstance(warehouse, SqlWarehouse):
        raise TypeError(f"retention needs a SqlWarehouse, got {type(warehouse).__name__}")
    started = _time.perf_counter()
    cutoff = retention_cutoff(now or datetime.now(tz=UTC), older_than_days)
    report = RetentionReport(cutoff=cutoff)
    for rng in list_ranges(warehouse, cutoff):
        outcome = _export(warehouse, store, rng)
        if after_export is not None:
            after_export(rng)
        deleted, note = _delete(warehouse, rng, expected=outcome.rows, lock_timeout=lock_timeout)
        report.outcomes.append(
            RangeOutcome(rng, outcome.action, outcome.rows, outcome.file_rows, deleted, note)
        )
    report.seconds = _time.perf_counter() - started
    return report


def list_ranges(warehouse: SqlWarehouse, cutoff: datetime) -> list[ArchiveRange]:
    """Ranges wholly before ``cutoff``: chunks on TimescaleDB, UTC days with rows on DuckDB."""
    ranges = []
    for label, start, end, chunk in warehouse._fetch(
        warehouse._q("retention_list_ranges"), {"cutoff": cutoff}
    ):
        start, end = _aware(start), _aware(end)
        if label is None:
            label = f"{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"
        ranges.append(ArchiveRange(str(label), start, end, chunk))
    return ranges


# --------------------------------------------------------------------------- steps


def _export(warehouse: SqlWarehouse, store: ObjectStore, rng: ArchiveRange) -> RangeOutcome:
    n, first, last = _range_stats(warehouse, rng)
    key = rng.key
    if store.exists(key):
        times = store.read_parquet(key, columns=["time"])
        if (times.num_rows, *_span(times)) == (n, first, last):
            return RangeOutcome(rng, "reverified", n, times.num_rows, deleted=False)
        rows = _read_range(warehouse, rng)
        merged = _union(store.read_parquet(key).cast(METRIC_SCHEMA), rows)
        _write_verified(store, key, merged)
        return RangeOutcome(rng, "merged", rows.num_rows, merged.num_rows, deleted=False)
    if n == 0:  # an empty chunk: nothing to keep
        return RangeOutcome(rng, "empty", 0, 0, deleted=False)
    rows = _read_range(warehouse, rng)
    _write_verified(store, key, rows)
    return RangeOutcome(rng, "exported", rows.num_rows, rows.num_rows, deleted=False)


def _delete(
    warehouse: SqlWarehouse, rng: ArchiveRange, *, expected: int, lock_timeout: str
) -> tuple[bool, str]:
    """Delete the range if it still holds exactly the ``expected`` (archived) rows."""
    params = {"range_start": rng.start, "range_end": rng.end}
    with warehouse._transaction():
        if warehouse.dialect == "timescaledb":
            warehouse._fetch(warehouse._q("retention_lock_timeout"), {"lock_timeout": lock_timeout})
            warehouse._fetch(warehouse._q("retention_lock_metrics"), {})
        n, _, _ = _range_stats(warehouse, rng)
        if n != expected:
            return False, f"{n - expected:+d} rows since export; left for the next run"
        result = warehouse._fetch(warehouse._q("retention_drop_range"), params)
        if warehouse.dialect == "timescaledb":
            dropped = sorted(str(r[0]) for r in result)
            if dropped != [rng.chunk]:
                raise RetentionError(f"drop_chunks on {rng.label} dropped {dropped}, rolled back")
        else:
            deleted = int(result[0][0]) if result else 0
            if deleted != expected:
                raise RetentionError(f"{rng.label}: deleted {deleted} != {expected}, rolled back")
    return True, ""


def _write_verified(store: ObjectStore, key: str, table: pa.Table) -> None:
    store.write_parquet(key, table)
    written = parquet_num_rows(store, key)
    if written != table.num_rows:
        raise RetentionError(f"{key}: wrote {written} rows, expected {table.num_rows}")


# --------------------------------------------------------------------------- helpers


def _range_stats(
    warehouse: SqlWarehouse, rng: ArchiveRange
) -> tuple[int, datetime | None, datetime | None]:
    rows = warehouse._fetch(
        warehouse._q("retention_range_stats"), {"range_start": rng.start, "range_end": rng.end}
    )
    n, first, last = rows[0]
    return int(n), _aware(first) if first else None, _aware(last) if last else None


def _read_range(warehouse: SqlWarehouse, rng: ArchiveRange) -> pa.Table:
    table = warehouse.query(
        _raw_query(warehouse, "retention_read_range"),
        {"range_start": rng.start, "range_end": rng.end},
    )
    if table.num_rows == 0:
        return METRIC_SCHEMA.empty_table()
    return table.select(METRIC_SCHEMA.names).cast(METRIC_SCHEMA)


def _raw_query(warehouse: SqlWarehouse, name: str) -> str:
    """Unrendered query text: ``Warehouse.query`` renders ``:name`` placeholders itself (and
    returns Arrow, natively on DuckDB)."""
    root = warehouse.sql_root or SQL_ROOT
    for path in (
        root / "queries" / warehouse.dialect / f"{name}.sql",
        root / "queries" / f"{name}.sql",
    ):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no SQL query {name!r} for {warehouse.dialect} under {root}")


def _span(table: pa.Table) -> tuple[datetime | None, datetime | None]:
    if table.num_rows == 0:
        return None, None
    mm = pc.min_max(table.column("time"))
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return _aware(lo), _aware(hi)


def _union(old: pa.Table, new: pa.Table) -> pa.Table:
    """Rows of both, one per metrics key; the warehouse's value wins (it is the live copy)."""
    both = pa.concat_tables([old, new])
    grouped = both.group_by(_KEY_COLUMNS, use_threads=False).aggregate([("value", "last")])
    table = grouped.rename_columns(
        ["value" if c == "value_last" else c for c in grouped.column_names]
    )
    table = table.select(METRIC_SCHEMA.names).cast(METRIC_SCHEMA)
    return table.sort_by([("time", "ascending"), ("run_id", "ascending"), ("name", "ascending")])


def _aware(value: datetime) -> datetime:
    """DuckDB without pytz returns naive UTC; everything here is UTC-aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
