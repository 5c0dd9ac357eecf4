"""Dagster resource for the warehouse: DuckDB locally, TimescaleDB in prod."""

import threading
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from quant_assets.lib.secrets import dsn_with_password
from quant_assets.lib.settings import Deployment, Settings
from quant_assets.lib.warehouse.base import Warehouse
from quant_assets.lib.warehouse.factory import make_warehouse
from resources.env import resolve
from resources.secrets import SecretsResource

TSDB_DSN_ENV = "QUANT_TSDB_DSN"
# Sensors evaluated on threads of one code server open the warehouse at the same moment; a fresh
# DuckDB file must not be migrated by two of them at once (catalog write-write conflict).
_OPEN_LOCK = threading.Lock()
TSDB_PASSWORD_SECRET_ENV = "QUANT_TSDB_PASSWORD_SECRET"  # name of the TimescaleDB password secret


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Opens the warehouse once per process and applies pending migrations on first use.

    The TimescaleDB DSN carries a password: it is bound as ``dg.EnvVar("QUANT_TSDB_DSN")``, so
    the definitions and the UI hold the variable's name and the value is read where it is used.
    """

    kind: str = Field(default="local", description="'local' (DuckDB) or 'prod' (TimescaleDB)")
    duckdb_path: str = Field(default=".quant/data/warehouse.duckdb")
    tsdb_dsn: str | None = Field(default=None, description="TimescaleDB DSN (kind='prod')")
    sql_root: str | None = Field(default=None, description="SQL files (default: repo sql/)")
    tsdb_password_secret: str | None = Field(
        default=None,
        description="name of the secret holding the TimescaleDB password (read at each run, so "
        "a rotated password needs no redeploy); the DSN then carries no password",
    )
    secrets: SecretsResource | None = None
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "WarehouseResource":
        sql_root = str(settings.sql_root) if settings.sql_root else None
        if settings.deployment is Deployment.PROD:
            # Always by name in prod: a literal DSN would put the password in the definitions.
            dsn = dg.EnvVar(TSDB_DSN_ENV) if settings.from_process_env else settings.tsdb_dsn
            return cls(
                kind="prod",
                tsdb_dsn=dsn,
                sql_root=sql_root,
                tsdb_password_secret=settings.env.get(TSDB_PASSWORD_SECRET_ENV) or None,
                secrets=SecretsResource.from_env(settings.env),
            )
        return cls(kind="local", duckdb_path=str(settings.duckdb_path), sql_root=sql_root)

    def get_warehouse(self, lock_timeout_s: float = 120.0) -> Warehouse:
        """``lock_timeout_s``: how long to wait for a local DuckDB file another process holds
        (sensors pass a short one and skip the tick instead)."""
        with _OPEN_LOCK:
            return self._open(lock_timeout_s)

    def _open(self, lock_timeout_s: float) -> Warehouse:
        if self._warehouse is None:
            dsn = resolve(self.tsdb_dsn)
            if dsn and self.tsdb_password_secret:
                secrets = self.secrets or SecretsResource()
                dsn = dsn_with_password(dsn, secrets.get(self.tsdb_password_secret))
            warehouse = make_warehouse(
                self.kind,
                duckdb_path=self.duckdb_path,
                tsdb_dsn=dsn,
                lock_timeout_s=lock_timeout_s,
                sql_root=Path(self.sql_root) if self.sql_root else None,
            )
            warehouse.migrate()
            self._warehouse = warehouse
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None
