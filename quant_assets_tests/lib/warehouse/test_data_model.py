"""docs/data_model.md is what scripts/gen_data_model.py generates from the migrations today, the
DuckDB migrations create the same tables and columns, and a new migration makes the check fail."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import duckdb

from quant_assets.lib.warehouse.data_model import lake_entities, references
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

REPO_ROOT = Path(__file__).resolve().parents[3]
DOC = REPO_ROOT / "docs" / "data_model.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_data_model", REPO_ROOT / "scripts" / "gen_data_model.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def diagram_columns(text: str) -> dict[str, list[str]]:
    """entity -> column names, parsed back out of the mermaid block."""
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    entities: dict[str, list[str]] = {}
    for name, body in re.findall(r"^    (\w+) \{\n(.*?)^    \}", block, flags=re.M | re.S):
        entities[name] = [line.split()[1] for line in body.strip().splitlines()]
    return entities


def test_data_model_doc_matches_migrations(tsdb_dsn: str) -> None:
    generated = generator().generate(tsdb_dsn)
    assert DOC.read_text() == generated, "docs/data_model.md is stale: scripts/gen_data_model.py"


def test_data_model_new_migration_changes_the_diagram(tsdb_dsn: str, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(REPO_ROOT / "sql", sql)
    (sql / "timescaledb" / "0099_operator_notes.sql").write_text(
        "ALTER TABLE run_failures ADD COLUMN operator_note TEXT;\n"
        "CREATE TABLE IF NOT EXISTS on_call (person TEXT PRIMARY KEY, run_id TEXT);\n"
    )

    generated = generator().generate(tsdb_dsn, sql_root=sql)

    assert generated != DOC.read_text()
    columns = diagram_columns(generated)
    assert "operator_note" in columns["run_failures"]
    assert columns["on_call"] == ["person", "run_id"]
    assert 'training_runs ||--o{ on_call : "run_id"' in generated


def test_data_model_duckdb_migrations_same_tables_and_columns(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    try:
        wh.migrate()
    finally:
        wh.close()
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
    duck: dict[str, list[str]] = {}
    for table, column in rows:
        duck.setdefault(table, []).append(column)
    lake = {e.name for e in lake_entities()}
    doc = {k: v for k, v in diagram_columns(DOC.read_text()).items() if k not in lake}
    assert duck == doc


def test_data_model_references_skip_run_failures_run_id() -> None:
    from quant_assets.lib.warehouse.data_model import Column, Entity

    entities = [
        Entity("training_runs", "table", [Column("run_id", "text", False, {"PK"})]),
        Entity("metrics", "table", [Column("run_id", "text", False)]),
        Entity("run_failures", "table", [Column("run_id", "text", False, {"PK"})]),
    ]
    assert references(entities) == [("training_runs", "metrics", "run_id")]
