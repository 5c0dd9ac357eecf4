"""Retention wiring: metrics to cold storage nightly, and the bucket's archive lifecycle rules."""

from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.lib.storage.lifecycle import (
    ARCHIVAL_STORAGE_CLASSES,
    ArchivePolicy,
    apply_archive_lifecycle,
)
from quant_assets.lib.warehouse.retention import (
    ARCHIVE_PREFIX,
    DEFAULT_OLDER_THAN_DAYS,
    archive_old_metrics,
)
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

RETENTION_GROUP = "retention"
LOCAL_NO_LIFECYCLE = "local object store: no lifecycle"


class MetricsArchiveConfig(dg.Config):
    older_than_days: int = Field(
        default=DEFAULT_OLDER_THAN_DAYS, ge=1, description="archive whole UTC days older than this"
    )


class BucketLifecycleConfig(dg.Config):
    days: int = Field(default=90, ge=1, description="days before objects move to storage_class")
    storage_class: str = Field(
        default="GLACIER", description=f"one of {sorted(ARCHIVAL_STORAGE_CLASSES)}"
    )


@dg.asset(
    group_name=RETENTION_GROUP,
    kinds={"parquet", "timescaledb", "duckdb"},
    description=f"Metrics older than N days moved to Parquet under {ARCHIVE_PREFIX}/ (one file per "
    "TimescaleDB chunk or DuckDB day), each file verified before its rows are dropped; re-runs "
    "finish what a crash left.",
)
def metrics_archive(
    context: dg.AssetExecutionContext,
    config: MetricsArchiveConfig,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    report = archive_old_metrics(
        warehouse.get_warehouse(), object_store.get_store(), older_than_days=config.older_than_days
    )
    summary = report.summary()
    if report.ranges_pending:
        context.log.warning(f"changed during export, retried next run: {report.ranges_pending}")
    context.log.info(f"metrics retention: {summary}")
    metadata: dict[str, Any] = {
        **{k: v for k, v in summary.items() if k not in {"actions", "ranges_pending"}},
        "actions": dg.MetadataValue.json(summary["actions"]),
        "ranges_pending": dg.MetadataValue.json(summary["ranges_pending"]),
        "files": dg.MetadataValue.json(report.files[-50:]),  # newest 50: metadata stays small
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=RETENTION_GROUP,
    kinds={"s3"},
    description="Lifecycle rules moving ticks_raw/ and metrics_archive/ to an archival storage "
    "class after N days, merged into the bucket's other rules and read back (prod S3 only).",
)
def bucket_lifecycle(
    context: dg.AssetExecutionContext,
    config: BucketLifecycleConfig,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    if object_store.kind != "s3":
        context.log.info(LOCAL_NO_LIFECYCLE)
        return dg.MaterializeResult(metadata={"status": LOCAL_NO_LIFECYCLE})
    import boto3

    policy = ArchivePolicy(
        days=config.days, storage_class=config.storage_class, key_prefix=object_store.prefix
    )
    client = boto3.client(
        "s3", endpoint_url=object_store.endpoint_url, region_name=object_store.region
    )
    result = apply_archive_lifecycle(client, object_store.bucket, policy)
    status = "updated" if result.changed else "unchanged"
    return dg.MaterializeResult(
        metadata={
            "status": status,
            "bucket": object_store.bucket,
            "managed_rules": dg.MetadataValue.json(result.managed),
            "kept_rules": dg.MetadataValue.json(result.kept),
        }
    )


retention_job = dg.define_asset_job(
    "retention_job",
    selection=dg.AssetSelection.assets(metrics_archive, bucket_lifecycle),
    description="Archive old metrics to the object store and keep the bucket's lifecycle rules.",
)

nightly_retention = dg.ScheduleDefinition(
    name="nightly_retention",
    job=retention_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:00 UTC: after the day's training, before the working day.",
)
