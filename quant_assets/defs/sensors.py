"""Sensors that keep the tick lake current: files landing → ingestion → raw/clean partitions."""

import json

import dagster as dg

from quant_assets.defs.jobs import ingest_landing_job, tick_lake_job
from quant_assets.defs.partitions import landing_file_partitions
from quant_assets.lib.ticks import landing
from resources.object_store import ObjectStoreResource


@dg.sensor(
    job=ingest_landing_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests one ingest run per new or replaced file in landing/incoming/.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
) -> dg.SensorResult:
    # The cursor maps each file still in incoming/ to the version already requested, so a
    # restart neither forgets nor repeats; ingested files leave incoming/ and the cursor.
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    files = landing.list_incoming(object_store.get_store())
    new = [f for f in files if seen.get(f.partition_key) != f.version]
    known = set(context.instance.get_dynamic_partitions(landing_file_partitions.name or ""))
    to_add = sorted({f.partition_key for f in new} - known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=f.partition_key,
                run_key=f"{f.partition_key}@{f.version}",  # dedupes across cursor loss too
                tags={"quant/landing_file": f.key},
            )
            for f in new
        ],
        dynamic_partitions_requests=(
            [landing_file_partitions.build_add_request(to_add)] if to_add else []
        ),
        cursor=json.dumps({f.partition_key: f.version for f in files}, sort_keys=True),
    )


@dg.asset_sensor(
    asset_key=dg.AssetKey("landing_files"),
    job=tick_lake_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a file is ingested, rebuilds raw and clean ticks of exactly the "
    "date|symbol partitions it touched.",
)
def landed_partitions_sensor(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.SensorResult:
    materialization = asset_event.asset_materialization
    assert materialization is not None
    entry = materialization.metadata.get("tick_partitions")
    keys = list(entry.value) if entry is not None else []  # type: ignore[arg-type]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=key,
                run_key=f"{asset_event.run_id}:{key}",  # one build per ingest run
                tags={"quant/landing_file": str(materialization.metadata["file"].value)},
            )
            for key in keys
        ]
    )
