"""Dagster resource for the warehouse: DuckDB locally, TimescaleDB in prod."""

import dagster as dg
from pydantic import Field, PrivateAttr

from quant_assets.lib.settings import Deployment, Settings
from quant_assets.lib.warehouse.base import Warehouse
from quant_assets.lib.warehouse.factory import make_warehouse


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the warehouse once per process and applies pending migrations on first use."""

    kind: str = Field(default="local", description="'local' (DuckDB) or 'prod' (TimescaleDB)")
    duckdb_path: str = Field(default=".quant/data/warehouse.duckdb")
    tsdb_dsn: str | None = Field(default=None, description="TimescaleDB DSN (kind='prod')")
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "WarehouseResource":
        if settings.deployment is Deployment.PROD:
            return cls(kind="prod", tsdb_dsn=settings.tsdb_dsn)
        return cls(kind="local", duckdb_path=str(settings.duckdb_path))

    def get_warehouse(self, lock_timeout_s: float = 120.0) -> Warehouse:
        """``lock_timeout_s``: how long to wait for a local DuckDB file another process holds
        (sensors pass a short one and skip the tick instead)."""
        if self._warehouse is None:
            warehouse = make_warehouse(
                self.kind,
                duckdb_path=self.duckdb_path,
                tsdb_dsn=self.tsdb_dsn,
                lock_timeout_s=lock_timeout_s,
            )
            warehouse.migrate()
            self._warehouse = warehouse
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None
