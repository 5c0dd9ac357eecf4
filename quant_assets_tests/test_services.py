"""The test servers are real: TimescaleDB features and S3 semantics that a fake would not have."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.fs
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

try:
    from quant_assets_tests.services import S3Server, ensure_timescaledb
except ImportError:  # repo root not on sys.path
    from services import S3Server, ensure_timescaledb  # type: ignore[no-redef]

# ------------------------------------------------------------------------------- TimescaleDB


def test_timescaledb_extension_installed_reports_version(tsdb_dsn: str) -> None:
    with psycopg.connect(tsdb_dsn) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        server_version = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None, "timescaledb extension missing in database quant"
    assert int(row[0].split(".")[0]) >= 2
    assert server_version is not None and int(server_version[0]) // 10000 == 17


def test_timescaledb_start_when_running_is_idempotent_and_fast(tsdb_dsn: str) -> None:
    t0 = time.monotonic()
    assert ensure_timescaledb() == tsdb_dsn
    assert time.monotonic() - t0 < 5.0


def test_tsdb_database_fixture_fresh_database_has_extension_and_no_tables(
    tsdb_database: str,
) -> None:
    with psycopg.connect(tsdb_database) as conn:
        ext = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert ext == (1,)
    assert tables == (0,)


def _create_ticks_hypertable(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE ticks (time timestamptz NOT NULL, symbol text NOT NULL, price float8)"
    )
    conn.execute("SELECT create_hypertable('ticks', by_range('time', INTERVAL '1 day'))")


def test_hypertable_time_bucket_and_drop_chunks_real_timescaledb_work(tsdb_database: str) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [(start + timedelta(minutes=10 * i), "ES", float(i)) for i in range(6 * 24 * 3)]
    with psycopg.connect(tsdb_database, autocommit=True) as conn:
        _create_ticks_hypertable(conn)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO ticks VALUES (%s, %s, %s)", rows)
        n_chunks = conn.execute("SELECT count(*) FROM show_chunks('ticks')").fetchone()
        assert n_chunks == (3,)

        buckets = conn.execute(
            "SELECT time_bucket(INTERVAL '1 hour', time) AS b, count(*), avg(price) "
            "FROM ticks GROUP BY b ORDER BY b"
        ).fetchall()
        assert len(buckets) == 72
        assert all(count == 6 for _, count, _ in buckets)
        assert buckets[0][0] == start
        assert buckets[0][2] == pytest.approx(2.5)

        dropped = conn.execute(
            "SELECT count(*) FROM drop_chunks('ticks', older_than => %s::timestamptz)",
            (start + timedelta(days=2),),
        ).fetchone()
        assert dropped == (2,)
        remaining = conn.execute("SELECT count(*), min(time) FROM ticks").fetchone()
    assert remaining == (6 * 24, start + timedelta(days=2))


def test_timescaledb_restart_committed_rows_survive(
    tsdb_database: str, tsdb_restart: Callable[[], str]
) -> None:
    with psycopg.connect(tsdb_database, autocommit=True) as conn:
        _create_ticks_hypertable(conn)
        conn.execute("INSERT INTO ticks VALUES (now(), 'NQ', 1.5), (now(), 'NQ', 2.5)")
        pid_before = conn.execute("SELECT pg_backend_pid()").fetchone()

    tsdb_restart()

    with psycopg.connect(tsdb_database) as conn:
        total = conn.execute("SELECT sum(price) FROM ticks WHERE symbol = 'NQ'").fetchone()
        is_hypertable = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'ticks'"
        ).fetchone()
        uptime = conn.execute(
            "SELECT now() - pg_postmaster_start_time() < INTERVAL '1 minute'"
        ).fetchone()
    assert pid_before is not None
    assert total == (4.0,)
    assert is_hypertable == (1,)
    assert uptime == (True,)


# ---------------------------------------------------------------------------------------- S3


def test_s3_boto3_put_get_list_roundtrip(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.boto3_client()
    keys = [f"raw/date=2024-01-0{i}/part-0.bin" for i in range(1, 4)]
    for i, key in enumerate(keys):
        client.put_object(Bucket=s3_bucket, Key=key, Body=bytes([i]) * 1000)

    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="raw/")
    assert sorted(obj["Key"] for obj in listed["Contents"]) == keys
    body = client.get_object(Bucket=s3_bucket, Key=keys[2])["Body"].read()
    assert body == bytes([2]) * 1000
    assert s3_bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_s3_wrong_secret_signature_rejected(s3_server: S3Server, s3_bucket: str) -> None:
    impostor = S3Server(
        endpoint_url=s3_server.endpoint_url,
        access_key=s3_server.access_key,
        secret_key="not-the-secret",
        region=s3_server.region,
        data_dir=s3_server.data_dir,
        log_path=s3_server.log_path,
        process=s3_server.process,
    )
    with pytest.raises(ClientError) as excinfo:
        impostor.boto3_client().put_object(Bucket=s3_bucket, Key="x", Body=b"x")
    assert excinfo.value.response["Error"]["Code"] in {
        "SignatureDoesNotMatch",
        "AccessDenied",
        "InvalidAccessKeyId",
    }


def test_s3_bucket_fixture_each_test_fresh_bucket_empty(
    s3_server: S3Server, s3_bucket: str
) -> None:
    listed = s3_server.boto3_client().list_objects_v2(Bucket=s3_bucket)
    assert listed.get("KeyCount", 0) == 0


def _ticks_table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2024-01-02T14:30:00", "ns") + np.arange(n).astype("timedelta64[ms]")
    return pa.table(
        {
            "ts": pa.array(ts, type=pa.timestamp("ns", tz="UTC")),
            "price": rng.normal(4800.0, 2.0, n),
            "size": rng.integers(1, 50, n, dtype=np.int64),
        }
    )


def test_s3_pyarrow_parquet_small_file_roundtrip(s3_server: S3Server, s3_bucket: str) -> None:
    fs = s3_server.pyarrow_filesystem()
    table = _ticks_table(1000)
    path = f"{s3_bucket}/ticks/symbol=ES/date=2024-01-02/part-0.parquet"
    pq.write_table(table, path, filesystem=fs)

    info = fs.get_file_info(path)
    assert info.type == pyarrow.fs.FileType.File
    assert pq.read_table(path, filesystem=fs).equals(table)
    # The same object is visible to a second, independent client.
    head = s3_server.boto3_client().head_object(
        Bucket=s3_bucket, Key=path.removeprefix(f"{s3_bucket}/")
    )
    assert head["ContentLength"] == info.size


def test_s3_pyarrow_parquet_over_10mb_multipart_roundtrip(
    s3_server: S3Server, s3_bucket: str
) -> None:
    fs = s3_server.pyarrow_filesystem()
    table = _ticks_table(1_000_000, seed=1)
    path = f"{s3_bucket}/big/part-0.parquet"
    pq.write_table(table, path, filesystem=fs, compression="none")

    size = fs.get_file_info(path).size
    assert size is not None and size > 10 * 1024 * 1024
    etag = s3_server.boto3_client().head_object(Bucket=s3_bucket, Key="big/part-0.parquet")["ETag"]
    assert "-" in etag, f"expected a multipart ETag (md5-N), got {etag}"
    assert pq.read_table(path, filesystem=fs).equals(table)


def test_s3_pyarrow_move_copies_then_deletes_source(s3_server: S3Server, s3_bucket: str) -> None:
    fs = s3_server.pyarrow_filesystem()
    table = _ticks_table(500, seed=2)
    staging = f"{s3_bucket}/_staging/{uuid.uuid4().hex}.parquet"
    final = f"{s3_bucket}/clean/date=2024-01-02/part-0.parquet"
    pq.write_table(table, staging, filesystem=fs)

    fs.move(staging, final)

    assert fs.get_file_info(staging).type == pyarrow.fs.FileType.NotFound
    assert fs.get_file_info(final).type == pyarrow.fs.FileType.File
    assert pq.read_table(final, filesystem=fs).equals(table)
    listed = s3_server.boto3_client().list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    # pyarrow leaves an empty "_staging/" directory marker behind once the last file is gone.
    objects = {obj["Key"] for obj in listed if not obj["Key"].endswith("/")}
    assert objects == {final.removeprefix(f"{s3_bucket}/")}
