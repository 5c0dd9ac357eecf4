"""Regenerate docs/data_model.md from the migrations (run after adding one).

    .venv/bin/python scripts/gen_data_model.py [--dsn DSN] [--check]

Applies every TimescaleDB migration in sql/ to a scratch database on the server at ``--dsn``
(default: ``QUANT_TSDB_DSN``, else the DSN ``scripts/services/timescaledb.sh start`` prints),
introspects it, drops it, and writes the mermaid ER diagram. ``--check`` writes nothing and exits
1 when the document is stale.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from quant_assets.lib.warehouse.data_model import (  # noqa: E402
    COLUMNS_SQL,
    KEYS_SQL,
    entities_from_catalog,
    lake_entities,
    render_document,
)
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse  # noqa: E402

DOC = REPO_ROOT / "docs" / "data_model.md"


def server_dsn() -> str:
    if os.environ.get("QUANT_TSDB_DSN"):
        return os.environ["QUANT_TSDB_DSN"]
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/services/timescaledb.sh"), "start"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1].split("=", 1)[-1]


def generate(dsn: str, sql_root: Path | None = None) -> str:
    """The document for the migrations under ``sql_root`` (default: the repository's sql/)."""
    name = f"datamodel_{uuid.uuid4().hex[:10]}"
    base = dsn.rsplit("/", 1)[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        wh = TimescaleWarehouse(f"{base}/{name}", sql_root=sql_root)
        try:
            wh.migrate()
        finally:
            wh.close()
        with psycopg.connect(f"{base}/{name}") as conn:
            columns = conn.execute(COLUMNS_SQL).fetchall()
            keys = conn.execute(KEYS_SQL).fetchall()
            migrations = [
                str(n)
                for (n,) in conn.execute("SELECT name FROM schema_migrations ORDER BY version")
            ]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    entities = entities_from_catalog(columns, keys) + lake_entities()
    return render_document(entities, migrations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = generate(args.dsn or server_dsn())
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC.relative_to(REPO_ROOT)} is stale: run scripts/gen_data_model.py")
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
