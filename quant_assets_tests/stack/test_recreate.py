"""Re-creating the stack from the repo plus backups, on the real servers the tests run (SeaweedFS
S3 and TimescaleDB): the smoke flow fills a lake bucket and a warehouse database, ``quant
backup`` copies them to a backup bucket, both are destroyed (bucket deleted, database dropped),
``quant restore`` rebuilds them into a new bucket and a new database, and the smoke flow runs
again on the result. Containers are not part of this test (no images here, see README).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from quant_assets.lib.storage.object_store import ObjectStore, S3Location
from quant_assets.smoke import smoke_flow
from quant_assets_tests.services import S3Server, temporary_database

REPO = Path(__file__).resolve().parents[2]
MANIFEST = (
    "SELECT session_date, symbol, market, raw_rows, clean_rows, raw_key, clean_key, "
    "quarantine_key FROM tick_manifest ORDER BY session_date, symbol"
)
VENDOR = REPO.parent / "shared" / "data" / "ticks" / "databento_python"
FIRST = VENDOR / "XNAS.ITCH" / "test_data.trades.dbn.zst"
SECOND = VENDOR / "EQUS.MINI" / "test_data.trades.dbn.zst"


def _store(server: S3Server, bucket: str) -> ObjectStore:
    return ObjectStore.s3(
        S3Location(
            bucket=bucket,
            endpoint_url=server.endpoint_url,
            region=server.region,
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
    )


def _objects(store: ObjectStore) -> dict[str, str]:
    return {k: hashlib.sha256(store.read_bytes(k)).hexdigest() for k in store.list("")}


def _quant(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "quant_assets.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture
def backup_bucket(s3_server: S3Server) -> Iterator[str]:
    bucket = s3_server.create_bucket()
    try:
        yield bucket
    finally:
        s3_server.delete_bucket(bucket)


@pytest.mark.slow
def test_stack_destroyed_then_restored_from_backups_runs_smoke_flow(
    s3_server: S3Server, tsdb_dsn: str, backup_bucket: str
) -> None:
    base_env = {
        **os.environ,
        **s3_server.env(),
        "QUANT_DEPLOYMENT": "prod",
        "PYTHONPATH": str(REPO),
    }
    backup_uri = f"s3://{backup_bucket}/platform"

    # 1. The running stack: a lake bucket and a warehouse database, filled by the smoke flow.
    lake_bucket = s3_server.create_bucket()
    with temporary_database(tsdb_dsn, prefix="stack") as dsn:
        lake = _store(s3_server, lake_bucket)
        before = smoke_flow(lake, dsn, FIRST, "smoke-1")
        objects_before = _objects(lake)
        with psycopg.connect(dsn) as conn:
            metrics_before = conn.execute("SELECT * FROM metrics ORDER BY time").fetchall()
            manifest_before = conn.execute(MANIFEST).fetchall()
        assert manifest_before, "the smoke flow built no manifest entry"
        env = {**base_env, "QUANT_S3_BUCKET": lake_bucket, "QUANT_TSDB_DSN": dsn}
        assert "backup " in _quant(env, "backup", "--to", backup_uri)
        db_name = dsn.rsplit("/", 1)[1]
    # 2. Destroyed: the database is dropped (temporary_database), the bucket deleted.
    s3_server.delete_bucket(lake_bucket)
    with psycopg.connect(tsdb_dsn) as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)
        ).fetchone()

    # 3. Re-created empty, restored from the backup bucket, smoke flow again.
    new_bucket = s3_server.create_bucket()
    try:
        with temporary_database(tsdb_dsn, prefix="stack") as new_dsn:
            env = {**base_env, "QUANT_S3_BUCKET": new_bucket, "QUANT_TSDB_DSN": new_dsn}
            assert "restored " in _quant(env, "restore", "--from", backup_uri)
            lake = _store(s3_server, new_bucket)
            assert _objects(lake) == objects_before
            with psycopg.connect(new_dsn) as conn:
                assert (
                    conn.execute("SELECT * FROM metrics ORDER BY time").fetchall() == metrics_before
                )
                assert conn.execute(MANIFEST).fetchall() == manifest_before
            # Every object the restored manifest points at is in the restored lake.
            for row in manifest_before:
                assert all(lake.exists(k) for k in row[-3:] if k), row
            after = smoke_flow(lake, new_dsn, SECOND, "smoke-2")
            with psycopg.connect(new_dsn) as conn:
                keys_after = {(r[0], r[1]) for r in conn.execute(MANIFEST).fetchall()}
            # The restored (session, symbol) entries are still there beside the new build's.
            assert {(r[0], r[1]) for r in manifest_before} <= keys_after
            assert before and after
    finally:
        s3_server.delete_bucket(new_bucket)
