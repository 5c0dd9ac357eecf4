"""Dagster's instance storage (runs, events, schedules) works on the real Postgres server.

The instance is built from the same YAML shape as the production ``dagster.yaml``: all
connection fields come from ``DAGSTER_PG_*`` environment variables. ``scheme`` pins the psycopg2
driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` URL to psycopg 3, whose server-side
parameter binding breaks dagster-postgres' ``NOTIFY run_events, %(notify_id)s`` (syntax error).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.instance import DagsterInstance
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
from psycopg.conninfo import conninfo_to_dict

PROD_STYLE_DAGSTER_YAML = """\
storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
      scheme: postgresql+psycopg2
"""


@dg.asset
def instance_probe() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


def test_dagster_instance_postgres_storage_records_materialization(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = conninfo_to_dict(pg_dsn)
    monkeypatch.setenv("DAGSTER_PG_HOST", str(params["host"]))
    monkeypatch.setenv("DAGSTER_PG_PORT", str(params["port"]))
    monkeypatch.setenv("DAGSTER_PG_USER", str(params["user"]))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", str(params["password"]))
    monkeypatch.setenv("DAGSTER_PG_DB", str(params["dbname"]))
    (tmp_path / "dagster.yaml").write_text(PROD_STYLE_DAGSTER_YAML)

    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)

        result = dg.materialize([instance_probe], instance=instance)
        assert result.success

        event = instance.get_latest_materialization_event(dg.AssetKey("instance_probe"))
        assert event is not None
        assert event.run_id == result.run_id
        materialization = event.asset_materialization
        assert materialization is not None
        assert materialization.metadata["rows"] == dg.IntMetadataValue(3)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    finally:
        instance.dispose()

    # The run really is in the Postgres ``dagster`` database, not in local files.
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,)).fetchone()
    assert row == ("SUCCESS",)
