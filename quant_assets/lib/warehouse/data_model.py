"""The data model on paper: a mermaid ER diagram of the warehouse and the tick lake.

The warehouse part is *introspected* from a database the migrations were just applied to
(``scripts/gen_data_model.py`` does that on a scratch TimescaleDB database), never written by
hand, so ``docs/data_model.md`` cannot drift from ``sql/`` without the test noticing. The lake part
comes from the canonical tick schema (``quant_assets/lib/ticks/schema.py``) and the hive layout.

No foreign keys are declared in the migrations (hypertables and idempotent replays make them
costly); the diagram draws the *logical* references the code relies on: a column named like a
table's single-column primary key refers to that table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from quant_assets.lib.ticks.lake import Dataset
from quant_assets.lib.ticks.schema import TICK_SCHEMA

# information_schema queries (PostgreSQL/TimescaleDB); public schema, base tables and views
COLUMNS_SQL = """
SELECT c.table_name, t.table_type, c.column_name, c.udt_name, c.is_nullable
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public'
ORDER BY c.table_name, c.ordinal_position
"""
KEYS_SQL = """
SELECT tc.table_name, kcu.column_name, tc.constraint_type
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
WHERE tc.table_schema = 'public' AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
ORDER BY tc.table_name, kcu.ordinal_position
"""
LAKE_PARTITION_COLUMNS = (("year", "int"), ("month", "int"), ("day", "int"))
# Same-named columns that are not references: these run_ids are any Dagster run's id (a failed
# run, the tick build that wrote a manifest row), not a training run's.
NOT_REFERENCES = frozenset({("run_failures", "run_id"), ("tick_manifest", "run_id")})


@dataclass
class Column:
    name: str
    type: str
    nullable: bool
    keys: set[str] = field(default_factory=set)  # PK / UK


@dataclass
class Entity:
    name: str
    kind: str  # "table", "view", "lake"
    columns: list[Column]

    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if "PK" in c.keys]


def entities_from_catalog(
    columns: Iterable[Sequence[str]], keys: Iterable[Sequence[str]]
) -> list[Entity]:
    """Entities from the rows of :data:`COLUMNS_SQL` and :data:`KEYS_SQL`."""
    key_map: dict[tuple[str, str], set[str]] = defaultdict(set)
    for table, column, constraint in keys:
        key_map[(table, column)].add("PK" if constraint == "PRIMARY KEY" else "UK")
    by_table: dict[str, Entity] = {}
    for table, table_type, column, udt, nullable in columns:
        kind = "view" if table_type == "VIEW" else "table"
        entity = by_table.setdefault(table, Entity(table, kind, []))
        keyset = key_map.get((table, column), set())
        if "PK" in keyset:
            keyset = {"PK"}  # a PK column is also "unique": show one marker
        entity.columns.append(Column(column, udt, nullable == "YES", set(keyset)))
    return sorted(by_table.values(), key=lambda e: (e.kind != "table", e.name))


def _arrow_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp_ns_utc"
    return {"string": "string", "double": "float64", "int64": "int64"}.get(str(t), str(t))


def lake_entities() -> list[Entity]:
    """The tick lake's datasets: one Parquet object per (day, symbol) partition."""
    base = [
        Column(f.name, _arrow_type(f.type), f.nullable, {"PK"} if f.name == "symbol" else set())
        for f in TICK_SCHEMA
    ]
    partition = [Column(n, t, False, {"PK"}) for n, t in LAKE_PARTITION_COLUMNS]
    entities = []
    for dataset in Dataset:
        cols = [*partition, *(Column(c.name, c.type, c.nullable, set(c.keys)) for c in base)]
        if dataset is Dataset.QUARANTINE:
            cols.append(Column("reason", "string", False))
        entities.append(Entity(f"lake_{dataset.value}", "lake", cols))
    return entities


def references(entities: Sequence[Entity]) -> list[tuple[str, str, str]]:
    """(parent, child, column): child.column names parent's single-column primary key."""
    owners = {
        e.primary_key()[0]: e.name
        for e in entities
        if e.kind == "table"
        and len(e.primary_key()) == 1
        and (e.name, e.primary_key()[0]) not in NOT_REFERENCES
    }
    found = []
    for entity in entities:
        for column in entity.columns:
            parent = owners.get(column.name)
            if (
                parent
                and parent != entity.name
                and (entity.name, column.name) not in NOT_REFERENCES
            ):
                found.append((parent, entity.name, column.name))
    return sorted(set(found))


LAKE_FLOWS = (
    ("tick_manifest", "lake_ticks_raw", "raw_key: current object"),
    ("tick_manifest", "lake_ticks_clean", "clean_key: current object"),
    ("tick_manifest", "lake_tick_quarantine", "quarantine_key: current object"),
    ("lake_ticks_raw", "lake_ticks_clean", "cleaned into"),
    ("lake_ticks_raw", "lake_tick_quarantine", "rows removed, with reason"),
    ("lake_ticks_clean", "cost_model_params", "calibrated from (symbol, trailing days)"),
    ("lake_ticks_clean", "training_runs", "trained on (data_version lists partitions)"),
    ("lake_ticks_clean", "ingestion_events", "partition_key"),
)


def render_mermaid(entities: Sequence[Entity]) -> str:
    lines = ["erDiagram"]
    for entity in entities:
        lines.append(f"    {entity.name} {{")
        for column in entity.columns:
            keys = ",".join(sorted(column.keys))
            note = "" if column.nullable else ' "not null"'
            lines.append(f"        {column.type} {column.name}{(' ' + keys) if keys else ''}{note}")
        lines.append("    }")
    for parent, child, ref_column in references(entities):
        lines.append(f'    {parent} ||--o{{ {child} : "{ref_column}"')
    names = {e.name for e in entities}
    for parent, child, label in LAKE_FLOWS:
        if parent in names and child in names:
            lines.append(f'    {parent} ||--o{{ {child} : "{label}"')
    return "\n".join(lines) + "\n"


def render_document(entities: Sequence[Entity], migrations: Sequence[str]) -> str:
    tables = [e for e in entities if e.kind == "table"]
    views = [e for e in entities if e.kind == "view"]
    return "\n".join(
        [
            "# Data model",
            "",
            "<!-- Generated by scripts/gen_data_model.py from the migrations in sql/ (applied to a",
            "     scratch TimescaleDB database and introspected) and the tick schema. Do not edit:",
            "     quant_assets_tests/lib/warehouse/test_data_model.py fails when it is stale. -->",
            "",
            f"Warehouse (TimescaleDB in prod, DuckDB locally with the same tables): {len(tables)} "
            f"tables, {len(views)} views; the tick lake: {len(Dataset)} Parquet datasets, one "
            "object per (session date, symbol) build "
            "(`<dataset>/year=YYYY/month=MM/day=DD/symbol=SYM/part-<version>.parquet`); "
            "`tick_manifest` names the current object of each.",
            "",
            "Lines between tables are logical references (a column named like another table's "
            "primary key); the migrations declare no foreign keys. `PK`/`UK`: primary key / unique "
            "constraint columns; lake partition columns are marked `PK`.",
            "",
            "Migrations: " + ", ".join(f"`{m}`" for m in migrations) + ".",
            "",
            "```mermaid",
            render_mermaid(entities).rstrip("\n"),
            "```",
            "",
        ]
    )
