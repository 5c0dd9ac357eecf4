"""Shared pytest fixtures.

Sections (add new fixtures to the matching section, or start a new one):
  * TimescaleDB / Postgres: a real server from ``scripts/services/timescaledb.sh``
  * S3: a real SeaweedFS ``weed mini`` per test session

Servers are real (see docs/architecture.md: never mocks). Session fixtures start them once;
function fixtures hand each test its own database or bucket, so tests never share state.
Fixtures return configuration; none of them changes ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quant_assets.lib.storage.object_store import ObjectStore, S3Location

try:
    from quant_assets_tests.services import (
        MotoServer,
        S3Server,
        dsn_with_database,
        ensure_timescaledb,
        restart_timescaledb,
        start_moto,
        start_seaweedfs,
        temporary_database,
    )
except ImportError:  # repo root not on sys.path (plain `pytest`, rootdir-relative imports)
    from services import (  # type: ignore[no-redef]
        MotoServer,
        S3Server,
        dsn_with_database,
        ensure_timescaledb,
        restart_timescaledb,
        start_moto,
        start_seaweedfs,
        temporary_database,
    )

# --------------------------------------------------------------------- TimescaleDB / Postgres


@pytest.fixture(scope="session")
def tsdb_dsn() -> str:
    """DSN of the shared ``quant`` database (timescaledb extension installed).

    Prefer ``tsdb_database`` in tests that write: it isolates each test in its own database.
    """
    return ensure_timescaledb()


@pytest.fixture
def tsdb_database(tsdb_dsn: str) -> Iterator[str]:
    """DSN of a fresh, uniquely named database with timescaledb; dropped after the test."""
    with temporary_database(tsdb_dsn, prefix="test") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def pg_dsn(tsdb_dsn: str) -> str:
    """DSN of the ``dagster`` database (Dagster instance storage) on the same server."""
    return dsn_with_database(tsdb_dsn, "dagster")


@pytest.fixture
def tsdb_restart(tsdb_dsn: str) -> Callable[[], str]:
    """Callable that restarts the server (clean shutdown, data kept) and returns the DSN.

    The server is shared by the whole session (and by parallel workers): only use this in tests
    that are about surviving a restart.
    """
    return restart_timescaledb


# --------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 endpoint (SeaweedFS) on 127.0.0.1 with per-session random credentials."""
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """Name of a fresh, empty bucket on ``s3_server``; deleted (with contents) afterwards."""
    bucket = s3_server.create_bucket()
    try:
        yield bucket
    finally:
        s3_server.delete_bucket(bucket)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's standalone AWS server (S3 transitions, Secrets Manager) on a free port."""
    pytest.importorskip("moto.server", reason="moto[server] not installed (dev extras)")
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- object store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """The object store on each real backend: a local directory and a SeaweedFS bucket."""
    if request.param == "local":
        yield ObjectStore.local(tmp_path / "lake")
        return
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    yield ObjectStore.s3(
        S3Location(
            bucket=bucket,
            prefix="lake",
            endpoint_url=server.endpoint_url,
            region=server.region,
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
    )
