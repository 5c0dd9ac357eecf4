from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from quant_assets.lib.warehouse import MigrationChecksumError, MigrationError, Warehouse
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from quant_assets.lib.warehouse.migrations import discover, split_statements
from quant_assets.lib.warehouse.queries import SQL_ROOT
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

TABLES = {
    "training_runs",
    "metrics",
    "episodes",
    "cost_model_params",
    "policies",
    "policy_aliases",
    "schema_migrations",
}


def _tables(wh: Warehouse) -> set[str]:
    t = wh.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema",
        {"schema": "main" if wh.dialect == "duckdb" else "public"},
    )
    return set(t.column("table_name").to_pylist())


def test_migrate_run_twice_is_noop(warehouse: Warehouse) -> None:
    # The fixture already migrated once.
    assert warehouse.migrate() == []
    assert warehouse.migrate() == []
    assert _tables(warehouse) >= TABLES
    applied = warehouse.query("SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
    versions = applied.column("version").to_pylist()
    assert versions == [m.version for m in discover(warehouse.dialect)]
    assert all(len(c) == 64 for c in applied.column("checksum").to_pylist())


def test_migrate_metrics_minute_rollup_queryable(warehouse: Warehouse) -> None:
    t = warehouse.query("SELECT * FROM metrics_minute")
    assert t.column_names[:3] == ["bucket", "run_id", "name"]


def test_migrate_apache_timescaledb_gets_view_variant(tsdb_warehouse: TimescaleWarehouse) -> None:
    caps = tsdb_warehouse.capabilities()
    assert caps.hypertables
    chosen = tsdb_warehouse.query("SELECT name FROM schema_migrations WHERE version = 2")
    expected = (
        "0002_metrics_minute.continuous_aggregates.sql"
        if caps.continuous_aggregates
        else "0002_metrics_minute.sql"
    )
    assert chosen.column("name").to_pylist() == [expected]
    hyper = tsdb_warehouse.query(
        "SELECT hypertable_name FROM timescaledb_information.hypertables"
    ).column("hypertable_name")
    assert hyper.to_pylist() == ["metrics"]


def _copy_sql(tmp_path: Path) -> Path:
    root = tmp_path / "sql"
    shutil.copytree(SQL_ROOT, root)
    return root


def test_migrate_changed_applied_file_raises_checksum_error(tmp_path: Path) -> None:
    root = _copy_sql(tmp_path)
    with DuckDBWarehouse(tmp_path / "w.duckdb", sql_root=root) as wh:
        assert len(wh.migrate()) >= 2
        core = root / "duckdb" / "0001_core.sql"
        core.write_text(core.read_text() + "\n-- edited after release\n")
        with pytest.raises(MigrationChecksumError, match=r"0001_core\.sql was modified"):
            wh.migrate()


def test_migrate_changed_applied_file_tsdb_raises_checksum_error(
    tmp_path: Path, tsdb_database: str
) -> None:
    root = _copy_sql(tmp_path)
    with TimescaleWarehouse(tsdb_database, sql_root=root) as wh:
        wh.migrate()
        core = root / "timescaledb" / "0001_core.sql"
        core.write_text(core.read_text().replace("1 day", "2 days"))
        with pytest.raises(MigrationChecksumError):
            wh.migrate()


def test_migrate_new_file_applies_only_new_version(tmp_path: Path) -> None:
    root = _copy_sql(tmp_path)
    with DuckDBWarehouse(tmp_path / "w.duckdb", sql_root=root) as wh:
        wh.migrate()
        (root / "duckdb" / "0099_extra.sql").write_text("CREATE TABLE IF NOT EXISTS extra (a INT);")
        applied = wh.migrate()
        assert [m.name for m in applied] == ["0099_extra.sql"]
        assert wh.migrate() == []


def test_migrate_failing_file_raises_and_records_nothing(tmp_path: Path) -> None:
    root = _copy_sql(tmp_path)
    (root / "duckdb" / "0098_broken.sql").write_text("CREATE TABLE broken (a INT);\nSELEC 1;")
    with DuckDBWarehouse(tmp_path / "w.duckdb", sql_root=root) as wh:
        with pytest.raises(MigrationError, match=r"0098_broken\.sql failed"):
            wh.migrate()
        versions = wh.query("SELECT version FROM schema_migrations").column("version").to_pylist()
        assert 98 not in versions
        assert "broken" not in _tables(wh)  # rolled back with its transaction


def test_discover_badly_named_file_raises(tmp_path: Path) -> None:
    root = _copy_sql(tmp_path)
    (root / "duckdb" / "add_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_name"):
        discover("duckdb", root)


def test_split_statements_quoted_semicolon_kept_together() -> None:
    sql = "-- c\nSELECT 'a;\nb';\nSELECT 2;\n"
    assert split_statements(sql) == ["-- c\nSELECT 'a;\nb';", "SELECT 2;"]
