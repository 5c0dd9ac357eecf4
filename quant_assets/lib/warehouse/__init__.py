"""Warehouse backends (DuckDB local, TimescaleDB prod), migrations runner and metrics writer."""

from quant_assets.lib.warehouse.base import (
    METRIC_SCHEMA,
    AppliedMigration,
    Capabilities,
    EpisodeRecord,
    MetricPoint,
    MetricsSink,
    PolicyAlias,
    SinkUnavailableError,
    SinkWriteResult,
    TrainingRun,
    UnknownPolicyError,
    Warehouse,
    WarehouseError,
)
from quant_assets.lib.warehouse.factory import make_warehouse
from quant_assets.lib.warehouse.metrics_writer import (
    BackPressureTimeout,
    InvalidMetricError,
    MetricsWriter,
    SpoolLockedError,
    WriterClosedError,
    WriterStats,
)
from quant_assets.lib.warehouse.migrations import MigrationChecksumError, MigrationError

__all__ = [
    "METRIC_SCHEMA",
    "AppliedMigration",
    "BackPressureTimeout",
    "Capabilities",
    "EpisodeRecord",
    "InvalidMetricError",
    "MetricPoint",
    "MetricsSink",
    "MetricsWriter",
    "MigrationChecksumError",
    "MigrationError",
    "PolicyAlias",
    "SinkUnavailableError",
    "SinkWriteResult",
    "SpoolLockedError",
    "TrainingRun",
    "UnknownPolicyError",
    "Warehouse",
    "WarehouseError",
    "WriterClosedError",
    "WriterStats",
    "make_warehouse",
]
