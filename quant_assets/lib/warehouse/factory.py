"""Pick the warehouse backend of a deployment; callers pass locations, this module reads no env."""

from __future__ import annotations

from pathlib import Path

from quant_assets.lib.warehouse.base import Warehouse


def make_warehouse(
    deployment: str,
    *,
    duckdb_path: str | Path | None = None,
    tsdb_dsn: str | None = None,
    lock_timeout_s: float = 120.0,
    sql_root: Path | None = None,
) -> Warehouse:
    """``local`` -> DuckDB file at ``duckdb_path``; ``prod``/``timescaledb`` -> TimescaleDB."""
    kind = deployment.strip().lower()
    if kind in {"local", "duckdb", "dev", "test"}:
        if duckdb_path is None:
            raise ValueError(f"deployment {deployment!r} needs duckdb_path")
        from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

        return DuckDBWarehouse(duckdb_path, lock_timeout_s=lock_timeout_s, sql_root=sql_root)
    if kind in {"prod", "production", "timescaledb", "tsdb"}:
        if not tsdb_dsn:
            raise ValueError(f"deployment {deployment!r} needs tsdb_dsn (QUANT_TSDB_DSN)")
        from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

        return TimescaleWarehouse(tsdb_dsn, sql_root=sql_root)
    raise ValueError(f"unknown deployment {deployment!r}: expected 'local' or 'prod'")
