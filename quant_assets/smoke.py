"""The platform smoke flow (QA after a deploy, a re-created stack after a restore): land a
vendor file → ingest → raw and clean partitions → one metric per clean partition, read back
through ``metrics_minute`` (the view the Grafana dashboards query).

Runs the library steps the assets run, against the deployment's real object store and
warehouse, without Dagster, so it also works on a stack whose webserver is not up yet.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.landing import ingest, list_incoming
from quant_assets.lib.ticks.pipeline import build_session
from quant_assets.lib.ticks.sessions import market_for
from quant_assets.lib.warehouse import MetricsWriter, TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse


class SmokeError(AssertionError):
    pass


def smoke_flow(
    store: ObjectStore, dsn: str, vendor_file: Path, run_id: str, source: str = "auto"
) -> dict[str, int]:
    """Land a file → ingest → raw/clean/quarantine of its market-sessions (committed to the tick
    manifest) → a metric per clean partition, read back through ``metrics_minute`` (what the
    Grafana dashboards query). Returns clean rows per ``date|market`` partition."""
    key = f"landing/incoming/{source}/{vendor_file.name}"
    store.write_bytes(key, vendor_file.read_bytes())
    sessions: dict[tuple[date, str], set[str]] = {}
    for landed in (f for f in list_incoming(store) if f.key == key):  # only ours
        for day, symbol in ingest(store, landed).partitions:
            sessions.setdefault((day, market_for(symbol).name), set()).add(symbol)
    if not sessions:
        raise SmokeError(f"{vendor_file.name} produced no partition")
    clean: dict[str, int] = {}
    with TimescaleWarehouse(dsn) as wh:
        wh.migrate()
        for (day, market), symbols in sorted(sessions.items()):
            build = build_session(store, wh, day, market, sorted(symbols), run_id=run_id)
            clean[f"{day}|{market}"] = build.clean_rows
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
