"""The platform smoke flow (QA after a deploy, a re-created stack after a restore): land a
vendor file → ingest → raw and clean partitions → one metric per clean partition, read back
through ``metrics_minute`` (the view the Grafana dashboards query).

Runs the library steps the assets run, against the deployment's real object store and
warehouse, without Dagster, so it also works on a stack whose webserver is not up yet.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.landing import ingest, list_incoming
from quant_assets.lib.ticks.pipeline import build_clean, build_raw
from quant_assets.lib.warehouse import MetricsWriter, TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse


class SmokeError(AssertionError):
    pass


def smoke_flow(
    store: ObjectStore, dsn: str, vendor_file: Path, run_id: str, source: str = "auto"
) -> dict[str, int]:
    """Land a file → ingest → raw and clean partitions → a metric per clean partition, read back
    through ``metrics_minute`` (what the Grafana dashboards query). Returns clean rows per
    partition."""
    key = f"landing/incoming/{source}/{vendor_file.name}"
    store.write_bytes(key, vendor_file.read_bytes())
    clean: dict[str, int] = {}
    for landed in (f for f in list_incoming(store) if f.key == key):  # only ours
        for day, symbol in ingest(store, landed).partitions:
            build_raw(store, day, symbol)
            clean[f"{day}|{symbol}"] = build_clean(store, day, symbol).clean.num_rows
    if not clean:
        raise SmokeError(f"{vendor_file.name} produced no partition")
    with TimescaleWarehouse(dsn) as wh:
        wh.migrate()
        wh.upsert_training_run(TrainingRun(run_id, "smoke", started_at=datetime.now(tz=UTC)))
        sink = wh.metrics_sink()
    with tempfile.TemporaryDirectory() as spool:
        writer = MetricsWriter(sink, spool)
        for step, rows in enumerate(clean.values()):
            writer.log(run_id, "smoke/clean_rows", step, float(rows))
        committed = writer.wait_committed(60)
        writer.close()
    if not committed:
        raise SmokeError("metrics not committed within 60 s")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT sum(n) FROM metrics_minute WHERE run_id = %s AND name = 'smoke/clean_rows'",
            (run_id,),
        ).fetchone()
    if row is None or row[0] is None or int(row[0]) != len(clean):
        raise SmokeError(f"metrics not visible in metrics_minute for {run_id}")
    return clean
