"""Sensors that keep the tick lake current: files landing → ingestion → raw/clean partitions."""

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from quant_assets.defs.alerts import failure_reason
from quant_assets.defs.deployment import TICK_JOB
from quant_assets.defs.jobs import ingest_landing_job
from quant_assets.defs.partitions import (
    landing_file_partitions,
    symbol_partitions,
    tick_partition_key,
)
from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import landing
from quant_assets.lib.warehouse.duckdb_backend import WarehouseBusyError
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource


def evaluate_landing(
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


def checked_partitions(instance: dg.DagsterInstance, keys: set[str]) -> set[str]:
    """Those of ``keys`` (tick partitions) whose every blocking check ran after the latest
    materialization and passed, from the instance's check records in one query."""
    if not keys:
        return set()
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus,
    )

    from quant_assets.defs.tick_checks import blocking_check_keys

    checks = blocking_check_keys()
    infos = instance.event_log_storage.get_asset_check_partition_info(
        checks, partition_keys=sorted(keys)
    )
    passed: dict[str, int] = {}
    for info in infos:
        current = (
            info.latest_materialization_storage_id is None
            or info.latest_check_event_storage_id > info.latest_materialization_storage_id
        )
        if (
            info.partition_key
            and current
            and (info.latest_execution_status is AssetCheckExecutionRecordStatus.SUCCEEDED)
        ):
            passed[info.partition_key] = passed.get(info.partition_key, 0) + 1
    return {key for key, n in passed.items() if n == len(checks)}


NOT_YET_STARTED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def queued_builds(instance: dg.DagsterInstance) -> dict[str, list[frozenset[str] | None]]:
    """Partitions with a tick_lake run that has not started (it has read no staged piece yet),
    with the symbols each builds (None: all of the session's)."""
    records = instance.get_run_records(dg.RunsFilter(job_name=TICK_JOB, statuses=NOT_YET_STARTED))
    out: dict[str, list[frozenset[str] | None]] = {}
    for record in records:
        run = record.dagster_run
        ops: Any = dict(run.run_config or {}).get("ops") or {}
        symbols = ((ops.get("tick_lake_build") or {}).get("config") or {}).get("symbols")
        key = str(run.tags.get("dagster/partition"))
        out.setdefault(key, []).append(frozenset(symbols) if symbols else None)
    return out


def evaluate_landed_partitions(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    # An asset_sensor only sees the newest event per tick; two files ingested between ticks
    # must both be built, so walk every landing_files materialization after the cursor.
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("landing_files"),
            after_storage_id=int(context.cursor) if context.cursor else None,
        ),
        limit=100,
        ascending=True,
    ).records
    requests = []
    # A build still waiting in the queue reads every staged piece when it starts: several files
    # touching one partition (trades, quotes, book of one day) need one build, not one each.
    waiting = queued_builds(context.instance)
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        entry = materialization.metadata.get("tick_partitions")
        file_entry = materialization.metadata.get("file")
        by_key = materialization.metadata.get("symbols_by_partition")
        symbols: dict[str, list[str]] = dict(by_key.value) if by_key is not None else {}  # type: ignore[arg-type]
        for key in list(entry.value) if entry is not None else []:  # type: ignore[arg-type]
            wanted = frozenset(symbols[key]) if key in symbols else None
            if any(w is None or (wanted is not None and wanted <= w) for w in waiting.get(key, [])):
                continue  # a build still queued will read this file's pieces too
            waiting.setdefault(key, []).append(wanted)
            config = {"symbols": symbols[key]} if key in symbols else {}
            requests.append(
                dg.RunRequest(
                    partition_key=key,
                    run_key=f"{record.run_id}:{key}",  # one build per ingest run
                    run_config={"ops": {"tick_lake_build": {"config": config}}} if config else {},
                    tags={"quant/landing_file": str(file_entry.value if file_entry else "")},
                )
            )
    cursor = str(records[-1].storage_id) if records else context.cursor
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def evaluate_retrain(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.SensorResult:
    from quant_assets.lib.evaluation.registry import champion_id
    from quant_assets.lib.evaluation.retrain import (
        RetrainCause,
        costs_calibrated_through,
        drift_cause,
        new_data_cause,
        new_days,
        trained_through,
    )
    from quant_assets.lib.ticks.manifest import clean_days_by_symbol
    from quant_assets.lib.ticks.sessions import market_for

    min_new = platform.retrain_min_new_partitions
    drift_alpha = platform.retrain_drift_alpha
    try:
        wh = warehouse.get_warehouse(lock_timeout_s=10)
    except WarehouseBusyError as exc:  # a local run holds the DuckDB file: try next tick
        return dg.SensorResult(skip_reason=dg.SkipReason(f"warehouse busy: {exc}"))
    days_by_symbol = clean_days_by_symbol(wh)  # one manifest query for every symbol
    causes: dict[str, RetrainCause | None] = {}
    waiting_on: dict[str, set[str]] = {}  # symbol -> tick partitions of its new sessions
    for symbol in context.instance.get_dynamic_partitions(symbol_partitions.name or "symbols"):
        champion = champion_id(wh, symbol)
        until = trained_through(wh, champion) if champion else None
        days = days_by_symbol.get(symbol, [])
        cause = new_data_cause(symbol, days, until, min_new)
        if cause is not None:
            if not costs_calibrated_through(wh, symbol, max(days)):
                continue  # its new sessions are still being calibrated: the same key fires later
            market = market_for(symbol).name
            waiting_on[symbol] = {tick_partition_key(d, market) for d in new_days(days, until)}
        if cause is None and champion is not None:
            cause = drift_cause(wh, symbol, champion, alpha=drift_alpha)
        causes[symbol] = cause
    # New sessions count once their blocking checks ran and passed (one query for all of them).
    checked = checked_partitions(context.instance, set().union(*waiting_on.values()))
    requests = []
    for symbol, cause in causes.items():
        if cause is None:
            continue
        unchecked = waiting_on.get(symbol, set()) - checked
        if unchecked:
            context.log.info(f"{symbol}: waiting for blocking checks of {sorted(unchecked)[:5]}")
            continue  # the same run key fires once they pass
        training: dict[str, object] = {"reason": cause.reason}
        if platform.retrain_timesteps:
            training["total_timesteps"] = platform.retrain_timesteps
        if platform.retrain_embargo_sessions is not None:
            training["embargo_sessions"] = platform.retrain_embargo_sessions
        requests.append(
            dg.RunRequest(
                partition_key=symbol,
                run_key=cause.key,
                run_config={"ops": {"trained_policy": {"config": training}}},
                tags={"quant/retrain_kind": cause.kind},
            )
        )
    return dg.SensorResult(run_requests=requests)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in the warehouse (run_failures) for dashboards, with "
    "the failing steps' errors as the reason.",
)
def failed_run_sensor(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    warehouse.get_warehouse().record_run_failure(
        {
            "run_id": run.run_id,
            "job_name": run.job_name,
            "partition_key": run.tags.get("dagster/partition"),
            "error": failure_reason(context),
            "failed_at": datetime.now(tz=UTC),
        }
    )


INGESTION_ASSETS = ("landing_files", "clean_ticks")


def _reasons(counts: Any) -> str | None:
    """Quarantine reason counts as JSON (``{"rule": rows}``, sorted); ``{}`` when none fired."""
    if counts is None:
        return None
    return json.dumps({str(k): int(v) for k, v in dict(counts).items()}, sort_keys=True)


def ingestion_rows(
    asset: str, run_id: str, metadata: dict[str, Any], recorded_at: datetime
) -> list[dict[str, Any]]:
    """Warehouse rows for one materialization (a backfill range gives one row per partition)."""
    if asset == "landing_files":
        keys = list(metadata.get("tick_partitions") or [])
        return [
            {
                "event_id": f"{run_id}:{asset}:{metadata.get('file')}",
                "recorded_at": recorded_at,
                "asset": asset,
                "partition_key": ",".join(keys),
                "source": metadata.get("source"),
                "rows_in": metadata.get("rows"),
                "rows_clean": None,
                "rows_quarantined": None,
                "reasons": None,
            }
        ]
    by_partition = metadata.get("by_partition") or {metadata.get("partition_key", ""): metadata}
    return [
        {
            "event_id": f"{run_id}:{asset}:{key}",
            "recorded_at": recorded_at,
            "asset": asset,
            "partition_key": key,
            "source": None,
            "rows_in": m.get("raw_rows"),
            "rows_clean": m.get("rows"),
            "rows_quarantined": m.get("quarantined_rows"),
            "reasons": _reasons(m.get("quarantine_reasons")),
        }
        for key, m in by_partition.items()
    ]


def evaluate_ingestion_events(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SkipReason:
    cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    try:
        wh = warehouse.get_warehouse(lock_timeout_s=10)
    except WarehouseBusyError as exc:
        return dg.SkipReason(f"warehouse busy: {exc}")
    written = 0
    for asset in INGESTION_ASSETS:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=cursor.get(asset)),
            limit=200,
            ascending=True,
        ).records
        for record in records:
            mat = record.asset_materialization
            if mat is None:
                continue
            metadata = {k: v.value for k, v in mat.metadata.items()}
            if mat.partition and "partition_key" not in metadata:
                metadata["partition_key"] = mat.partition
            recorded = datetime.fromtimestamp(record.timestamp, tz=UTC)
            for row in ingestion_rows(asset, record.run_id, metadata, recorded):
                wh.record_ingestion_event(row)
                written += 1
            cursor[asset] = record.storage_id
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    return dg.SkipReason(f"recorded {written} ingestion events (no runs to launch)")


def tick_lake_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The landing, build, ingestion-events and retrain sensors, evaluated every
    ``settings.landing_sensor_interval_s`` seconds (retrain: ``retrain_sensor_interval_s``);
    demos and end-to-end tests shorten them through the platform settings."""
    landing_s = settings.landing_sensor_interval_s
    retrain_s = settings.retrain_sensor_interval_s
    return [
        dg.sensor(
            name="landing_sensor",
            job=ingest_landing_job,
            minimum_interval_seconds=landing_s,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Requests one ingest run per new or replaced file in landing/incoming/.",
        )(evaluate_landing),
        dg.sensor(
            name="landed_partitions_sensor",
            job_name=TICK_JOB,
            minimum_interval_seconds=landing_s,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="After files are ingested, rebuilds raw and clean ticks of exactly the "
            "session|market partitions they touched, and in them only the file's symbols (run "
            "config), for every ingest since the cursor, oldest first.",
        )(evaluate_landed_partitions),
        dg.sensor(
            name="retrain_sensor",
            job_name="train_policy",
            minimum_interval_seconds=retrain_s,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Retrains a symbol when enough new clean days arrived since the champion's "
            "training data (once their blocking checks ran and passed), or when the champion loses "
            "money out of sample (a one-sided test at a stated false-alarm rate, "
            "QUANT_RETRAIN_DRIFT_ALPHA); the run config "
            "carries the reason and the run key names the cause, so one cause fires once.",
        )(evaluate_retrain),
        dg.sensor(
            name="ingestion_events_sensor",
            minimum_interval_seconds=landing_s,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Copies ingestion figures (files ingested, rows raw/clean/quarantined per "
            "partition) from materializations into the warehouse's ingestion_events.",
        )(evaluate_ingestion_events),
    ]


@dg.definitions
def sensors() -> dg.Definitions:
    """Intervals from the environment's settings, read when the code location loads (the
    interval is part of a sensor's definition; change it and reload the location)."""
    return dg.Definitions(sensors=tick_lake_sensors(Settings.from_env()))
