"""Warehouse fixtures: both backends on real storage (a DuckDB file, a TimescaleDB database).

``private_tsdb`` is a second TimescaleDB cluster (same script, its own port) for tests that
restart the server: restarting the shared one would break tests running beside them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quant_assets.lib.warehouse import TrainingRun, Warehouse
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

try:
    from quant_assets_tests.services import REPO_ROOT, TIMESCALEDB_SCRIPT, temporary_database
except ImportError:  # rootdir-relative imports
    from services import REPO_ROOT, TIMESCALEDB_SCRIPT, temporary_database  # type: ignore[no-redef]

PRIVATE_TSDB_PORT = int(os.environ.get("QUANT_TEST_PRIVATE_TSDB_PORT", "55439"))


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    wh = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    wh.migrate()
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def tsdb_warehouse(tsdb_database: str) -> Iterator[TimescaleWarehouse]:
    wh = TimescaleWarehouse(tsdb_database)
    wh.migrate()
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture(params=["duckdb", "timescaledb"])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each parity test runs against both backends."""
    name = "duckdb_warehouse" if request.param == "duckdb" else "tsdb_warehouse"
    wh: Warehouse = request.getfixturevalue(name)
    return wh


def _register_run(wh: Warehouse, run_id: str = "run-1") -> str:
    wh.upsert_training_run(
        TrainingRun(run_id=run_id, algorithm="ppo", started_at=datetime(2025, 1, 2, tzinfo=UTC))
    )
    return run_id


@pytest.fixture
def register_run() -> Callable[..., str]:
    """``register_run(wh, run_id="run-1")``: a training run the metrics may refer to."""
    return _register_run


@dataclass
class PrivateTsdb:
    dsn: str  # maintenance database "quant" of the private cluster
    port: int

    def run(self, command: str) -> str:
        env = {**os.environ, "QUANT_TSDB_PORT": str(self.port)}
        out = subprocess.run(
            ["bash", str(TIMESCALEDB_SCRIPT), command],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return out.stdout

    def restart(self) -> None:
        self.run("restart")

    def stop(self) -> None:
        self.run("stop")

    def start(self) -> None:
        self.run("start")


@pytest.fixture(scope="session")
def private_tsdb(tsdb_dsn: str) -> Iterator[PrivateTsdb]:
    """A TimescaleDB cluster of our own (``tsdb_dsn`` first: it builds the shared rootfs)."""
    server = PrivateTsdb(
        dsn=f"postgresql://quant:quant@127.0.0.1:{PRIVATE_TSDB_PORT}/quant", port=PRIVATE_TSDB_PORT
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_tsdb_database(private_tsdb: PrivateTsdb) -> Iterator[tuple[str, Callable[[], None]]]:
    """(DSN of a fresh database on the private cluster, restart function)."""
    with temporary_database(private_tsdb.dsn, prefix="wr") as dsn:
        yield dsn, private_tsdb.restart
