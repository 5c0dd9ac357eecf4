"""Warehouse interface shared by the DuckDB (local) and TimescaleDB (prod) backends.

Both backends run the same ``sql/`` files (dialect overrides where needed), so most behaviour is
implemented once in :class:`SqlWarehouse`; a backend supplies connection handling, parameter
binding and the bulk metrics path.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from quant_assets.lib.warehouse.queries import Dialect, load_query, query_source

# --------------------------------------------------------------------------- metric batches

#: Column layout of a metrics batch everywhere (writer queue, spool files, sinks).
#: Microseconds because that is PostgreSQL's timestamp resolution: a key must survive a round trip.
METRIC_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("step", pa.int64(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One scalar of a training run at a step; ``time`` is part of the idempotency key."""

    run_id: str
    name: str
    step: int
    value: float
    time: datetime


def metrics_to_batch(rows: pa.Table | pa.RecordBatch | Iterable[MetricPoint]) -> pa.RecordBatch:
    """Normalise accepted metric inputs to one RecordBatch of :data:`METRIC_SCHEMA`."""
    if isinstance(rows, pa.RecordBatch):
        rows = pa.Table.from_batches([rows])
    if isinstance(rows, pa.Table):
        table = rows.select(METRIC_SCHEMA.names).cast(METRIC_SCHEMA)
        return table.combine_chunks().to_batches()[0] if table.num_rows else empty_metric_batch()
    points = list(rows)
    for p in points:
        require_aware(p.time, "MetricPoint.time")
    return pa.RecordBatch.from_arrays(
        [
            pa.array([p.time for p in points], METRIC_SCHEMA.field("time").type),
            pa.array([p.run_id for p in points], pa.string()),
            pa.array([p.name for p in points], pa.string()),
            pa.array([p.step for p in points], pa.int64()),
            pa.array([p.value for p in points], pa.float64()),
        ],
        schema=METRIC_SCHEMA,
    )


def empty_metric_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=METRIC_SCHEMA)


# --------------------------------------------------------------------------- records


def require_aware(value: datetime | None, what: str) -> None:
    """Naive datetimes are ambiguous across machines; refuse them at the boundary."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    algorithm: str
    started_at: datetime
    policy_id: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    data_version: str | None = None
    code_version: str | None = None
    ended_at: datetime | None = None
    status: str = "running"


@dataclass(frozen=True)
class EpisodeRecord:
    run_id: str  # training run of the evaluated policy
    episode_id: int
    split: str
    start_ts: datetime | None = None
    end_ts: datetime | None = None
    ep_reward: float | None = None
    max_dd: float | None = None
    final_pnl: float | None = None
    sharpe: float | None = None
    turnover: float | None = None
    cost_commission: float | None = None
    cost_spread: float | None = None
    cost_impact: float | None = None
    cost_total: float | None = None
    n_trades: int | None = None
    cost_model_version: str | None = None
    evaluation_id: str = ""  # the evaluation that produced the row (one per episodes run)
    policy: str = ""  # policy name, or a baseline: flat, buy_and_hold, random


@dataclass(frozen=True)
class PolicyAlias:
    alias: str
    policy_id: str
    previous_policy_id: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Capabilities:
    """What the server offers; migrations and dashboards branch on this, never on the backend."""

    backend: Dialect
    server_version: str
    timescaledb_version: str | None = None
    license: str | None = None
    hypertables: bool = False
    continuous_aggregates: bool = False
    compression: bool = False
    retention_policies: bool = False

    def has(self, feature: str) -> bool:
        value = getattr(self, feature, None)
        return value is True


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: datetime


@dataclass(frozen=True)
class SinkWriteResult:
    """Outcome of one batch: ``inserted`` new rows, ``duplicates`` already there, ``rejected``
    rows whose run is not registered (never written, counted by the writer)."""

    rows: int
    inserted: int
    rejected: int

    @property
    def duplicates(self) -> int:
        return self.rows - self.inserted - self.rejected


# --------------------------------------------------------------------------- errors


class WarehouseError(RuntimeError):
    """Base class of warehouse errors."""


class SinkUnavailableError(WarehouseError):
    """The metrics store cannot be reached (or refused the batch); the writer spools and retries."""


class UnknownPolicyError(WarehouseError, KeyError):
    """An alias was pointed at a policy that was never registered."""


# --------------------------------------------------------------------------- interfaces


@runtime_checkable
class MetricsSink(Protocol):
    """Where the metrics writer's batches go; one per writer, used from its background thread
    (``write_batch``) and from callers of ``log`` (``fetch_run_ids``)."""

    def write_batch(self, batch: pa.RecordBatch, *, replay: bool = False) -> SinkWriteResult:
        """Commit ``batch`` idempotently. ``replay``: the batch may already be (partly) stored,
        so skip fast paths that assume fresh keys."""
        ...

    def fetch_run_ids(self) -> set[str]: ...

    def run_started_at(self, run_id: str) -> datetime | None: ...

    def close(self) -> None: ...


class Warehouse(ABC):
    """Run, metric, episode, cost-model and policy records of the platform."""

    dialect: Dialect

    @abstractmethod
    def migrate(self) -> list[AppliedMigration]:
        """Apply pending ``sql/<dialect>`` migrations; returns the ones applied now."""

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def upsert_training_run(self, run: TrainingRun) -> None: ...

    @abstractmethod
    def write_metrics(self, rows: pa.Table | pa.RecordBatch | Iterable[MetricPoint]) -> int:
        """Idempotent bulk write; returns rows newly inserted (replays insert 0)."""

    @abstractmethod
    def write_episodes(self, episodes: Iterable[EpisodeRecord]) -> int: ...

    @abstractmethod
    def upsert_cost_model_params(
        self, symbol: str, version: str, as_of: datetime, params: Mapping[str, Any]
    ) -> None: ...

    @abstractmethod
    def register_policy(
        self,
        policy_id: str,
        *,
        run_id: str | None,
        algorithm: str,
        artifact_uri: str,
        metrics: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> None: ...

    @abstractmethod
    def record_ingestion_event(self, event: Mapping[str, Any]) -> None:
        """Store one ingested file or cleaned partition (``ingestion_events`` columns)."""

    @abstractmethod
    def upsert_tick_manifest(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make ``rows`` (``tick_manifest`` columns) current in one transaction: the commit
        point of a tick build (see ``quant_assets.lib.ticks.manifest``)."""

    def tick_manifest(
        self,
        *,
        market: str | None = None,
        symbol: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[dict[str, Any]]:
        """Current ``tick_manifest`` rows matching the filters, by session then symbol."""
        params = {"market": market, "symbol": symbol, "start": start, "end": end}
        return self.query_named("tick_manifest_entries", params).to_pylist()

    @abstractmethod
    def record_run_failure(self, failure: Mapping[str, Any]) -> None:
        """Store one failed orchestrator run (``run_failures`` columns)."""

    @abstractmethod
    def record_promotion_decision(self, decision: Mapping[str, Any]) -> None:
        """Store one champion/challenger decision (``promotion_decisions`` columns)."""

    @abstractmethod
    def set_alias(self, alias: str, policy_id: str) -> PolicyAlias:
        """Atomically point ``alias`` at ``policy_id``, keeping the old target as previous."""

    @abstractmethod
    def get_alias(self, alias: str) -> PolicyAlias | None: ...

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Ad-hoc read with ``:name`` placeholders (same text on both backends)."""

    @abstractmethod
    def query_named(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run the read query ``sql/queries/<name>.sql``."""

    @abstractmethod
    def metrics_sink(self) -> MetricsSink:
        """A sink for :class:`~quant_assets.lib.warehouse.metrics_writer.MetricsWriter`."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SqlWarehouse(Warehouse):
    """Shared implementation on top of four backend primitives."""

    sql_root: Path | None = None

    # -- backend primitives
    @abstractmethod
    def _execute(self, sql: str, params: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def _execute_many(self, sql: str, params: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def _fetch(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _json(self, value: Mapping[str, Any]) -> Any:
        """Driver-specific JSON parameter."""

    @abstractmethod
    def _write_metric_batch(self, batch: pa.RecordBatch) -> SinkWriteResult: ...

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]: ...

    # -- helpers
    def _q(self, name: str) -> str:
        return load_query(name, self.dialect, self.sql_root)

    def query_named(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run the read query ``sql/queries/<name>.sql``."""
        return self.query(query_source(name, self.dialect, self.sql_root), params)

    # -- Warehouse
    def upsert_training_run(self, run: TrainingRun) -> None:
        require_aware(run.started_at, "started_at")
        require_aware(run.ended_at, "ended_at")
        params = asdict(run)
        params["config"] = self._json(run.config)
        with self._transaction():
            self._execute(self._q("upsert_training_run"), params)

    def write_metrics(self, rows: pa.Table | pa.RecordBatch | Iterable[MetricPoint]) -> int:
        batch = metrics_to_batch(rows)
        if batch.num_rows == 0:
            return 0
        return self._write_metric_batch(batch).inserted

    def write_episodes(self, episodes: Iterable[EpisodeRecord]) -> int:
        params = []
        for ep in episodes:
            require_aware(ep.start_ts, "start_ts")
            require_aware(ep.end_ts, "end_ts")
            params.append(asdict(ep))
        if params:
            with self._transaction():
                self._execute_many(self._q("upsert_episode"), params)
        return len(params)

    def record_promotion_decision(self, decision: Mapping[str, Any]) -> None:
        self._record("record_promotion_decision", decision, "decided_at")

    def record_run_failure(self, failure: Mapping[str, Any]) -> None:
        self._record("record_run_failure", failure, "failed_at")

    def record_ingestion_event(self, event: Mapping[str, Any]) -> None:
        self._record("record_ingestion_event", event, "recorded_at")

    def upsert_tick_manifest(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            require_aware(row.get("built_at"), "built_at")
        if rows:
            with self._transaction():
                self._execute_many(self._q("upsert_tick_manifest"), list(rows))

    def _record(self, query: str, row: Mapping[str, Any], time_column: str) -> None:
        require_aware(row.get(time_column), time_column)
        with self._transaction():
            self._execute_many(self._q(query), [dict(row)])

    def upsert_cost_model_params(
        self, symbol: str, version: str, as_of: datetime, params: Mapping[str, Any]
    ) -> None:
        require_aware(as_of, "as_of")
        values = {"symbol": symbol, "version": version, "as_of": as_of}
        values["params"] = self._json(params)
        with self._transaction():
            self._execute(self._q("upsert_cost_model_params"), values)

    def register_policy(
        self,
        policy_id: str,
        *,
        run_id: str | None,
        algorithm: str,
        artifact_uri: str,
        metrics: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> None:
        require_aware(created_at, "created_at")
        values = {
            "policy_id": policy_id,
            "run_id": run_id,
            "algorithm": algorithm,
            "artifact_uri": artifact_uri,
            "metrics": self._json(metrics or {}),
            "created_at": created_at or datetime.now(tz=UTC),
        }
        with self._transaction():
            self._execute(self._q("register_policy"), values)

    def set_alias(self, alias: str, policy_id: str) -> PolicyAlias:
        values = {"alias": alias, "policy_id": policy_id, "updated_at": datetime.now(tz=UTC)}
        with self._transaction():
            rows = self._fetch(self._q("set_alias"), values)
        if not rows:
            raise UnknownPolicyError(f"cannot point alias {alias!r} at unregistered {policy_id!r}")
        return _alias(rows[0])

    def get_alias(self, alias: str) -> PolicyAlias | None:
        rows = self._fetch(self._q("get_alias"), {"alias": alias})
        return _alias(rows[0]) if rows else None


def _alias(row: tuple[Any, ...]) -> PolicyAlias:
    alias, policy_id, previous, updated_at = row
    if updated_at.tzinfo is None:  # DuckDB without pytz hands back naive UTC
        updated_at = updated_at.replace(tzinfo=UTC)
    return PolicyAlias(str(alias), str(policy_id), previous, updated_at)


def dumps_json(value: Mapping[str, Any]) -> str:
    """Canonical JSON (sorted keys, no NaN) so equal configs compare equal as text."""
    return json.dumps(value, sort_keys=True, allow_nan=False, default=str)


def is_finite(value: float) -> bool:
    return math.isfinite(value)


def iter_batches(table: pa.Table, max_rows: int) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=max_rows)
