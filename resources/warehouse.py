"""Dagster resource for the warehouse: DuckDB locally, TimescaleDB in prod."""

import os

import dagster as dg
from pydantic import Field, PrivateAttr

from quant_assets.lib.secrets import dsn_with_password
from quant_assets.lib.settings import Deployment, Settings
from quant_assets.lib.warehouse.base import Warehouse
from quant_assets.lib.warehouse.factory import make_warehouse
from resources.secrets import SecretsResource

TSDB_PASSWORD_SECRET_ENV = "QUANT_TSDB_PASSWORD_SECRET"  # name of the TimescaleDB password secret


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the warehouse once per process and applies pending migrations on first use."""

    kind: str = Field(default="local", description="'local' (DuckDB) or 'prod' (TimescaleDB)")
    duckdb_path: str = Field(default=".quant/data/warehouse.duckdb")
    tsdb_dsn: str | None = Field(default=None, description="TimescaleDB DSN (kind='prod')")
    tsdb_password_secret: str | None = Field(
        default=None,
        description="name of the secret holding the TimescaleDB password (read at each run, so "
        "a rotated password needs no redeploy); the DSN then carries no password",
    )
    secrets: SecretsResource | None = None
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "WarehouseResource":
        if settings.deployment is Deployment.PROD:
            return cls(
                kind="prod",
                tsdb_dsn=settings.tsdb_dsn,
                tsdb_password_secret=os.environ.get(TSDB_PASSWORD_SECRET_ENV) or None,
                secrets=SecretsResource.from_env(),
            )
        return cls(kind="local", duckdb_path=str(settings.duckdb_path))

    def get_warehouse(self, lock_timeout_s: float = 120.0) -> Warehouse:
        """``lock_timeout_s``: how long to wait for a local DuckDB file another process holds
        (sensors pass a short one and skip the tick instead)."""
        if self._warehouse is None:
            dsn = self.tsdb_dsn
            if dsn and self.tsdb_password_secret:
                secrets = self.secrets or SecretsResource()
                dsn = dsn_with_password(dsn, secrets.get(self.tsdb_password_secret))
            warehouse = make_warehouse(
                self.kind,
                duckdb_path=self.duckdb_path,
                tsdb_dsn=dsn,
                lock_timeout_s=lock_timeout_s,
            )
            warehouse.migrate()
            self._warehouse = warehouse
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None
