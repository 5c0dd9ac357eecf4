"""SQL text lives in ``sql/`` files, loaded by name, so DDL and DML are reviewed as SQL.

Queries are written once with ``:name`` placeholders and rendered per driver: psycopg wants
``%(name)s`` (and ``%%`` for a literal percent), DuckDB wants ``$name``. A dialect-specific file
``sql/queries/<dialect>/<name>.sql`` overrides the shared ``sql/queries/<name>.sql``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

Dialect = Literal["timescaledb", "duckdb"]

#: Repository ``sql/`` folder; a deployment points elsewhere with ``QUANT_SQL_DIR``, which the
#: warehouse resource passes in as ``sql_root`` (this module reads no environment).
SQL_ROOT = Path(__file__).resolve().parents[3] / "sql"

# String literals and quoted identifiers are skipped; `::` casts are kept as they are.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|%|:([A-Za-z_][A-Za-z0-9_]*)")


def render(sql: str, dialect: Dialect) -> str:
    """Rewrite ``:name`` placeholders into the driver's paramstyle."""

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        name = match.group(1)
        if name is not None:
            return f"%({name})s" if dialect == "timescaledb" else f"${name}"
        if token == "%":
            return "%%" if dialect == "timescaledb" else "%"
        return token

    return _TOKEN.sub(repl, sql)


@lru_cache(maxsize=256)
def _source(name: str, dialect: Dialect, root: Path) -> str:
    for candidate in (root / "queries" / dialect / f"{name}.sql", root / "queries" / f"{name}.sql"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no SQL query {name!r} for {dialect} under {root / 'queries'}")


def _load(name: str, dialect: Dialect, root: Path) -> str:
    return render(_source(name, dialect, root), dialect)


def query_source(name: str, dialect: Dialect, root: Path | None = None) -> str:
    """The text of query ``name`` with its ``:name`` placeholders (for ``Warehouse.query``)."""
    return _source(name, dialect, (root or SQL_ROOT).resolve())


def load_query(name: str, dialect: Dialect, root: Path | None = None) -> str:
    """The rendered text of query ``name`` for ``dialect``."""
    return _load(name, dialect, (root or SQL_ROOT).resolve())
