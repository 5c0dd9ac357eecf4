"""A code location for the secrets tests: one asset that opens the prod warehouse with its
password from the secrets resource. Loaded by ``dagster job execute -f`` and the webserver;
everything it points at comes from ``QUANT_TEST_*`` variables (names and locations, no values)."""

import os

import dagster as dg

from resources.secrets import SecretsResource
from resources.warehouse import WarehouseResource


@dg.asset
def warehouse_probe(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> int:
    """Connects (applying migrations) and counts them; logs the connection target."""
    wh = warehouse.get_warehouse()
    applied = wh.query("select count(*) as n from schema_migrations").column("n")[0].as_py()
    context.log.info(
        f"connected to {warehouse.tsdb_dsn} with secret {warehouse.tsdb_password_secret}"
    )
    context.add_output_metadata({"migrations": int(applied), "dsn": str(warehouse.tsdb_dsn)})
    return int(applied)


def build() -> dg.Definitions:
    return dg.Definitions(
        assets=[warehouse_probe],
        jobs=[dg.define_asset_job("probe_job", selection=[warehouse_probe])],
        resources={
            "warehouse": WarehouseResource(
                kind="prod",
                tsdb_dsn=os.environ.get("QUANT_TEST_TSDB_DSN", "postgresql://nobody@127.0.0.1/x"),
                tsdb_password_secret="QUANT_TSDB_PASSWORD",
                secrets=SecretsResource(
                    backend=os.environ.get("QUANT_SECRETS_BACKEND", "env"),
                    prefix=os.environ.get("QUANT_SECRETS_PREFIX", ""),
                ),
            )
        },
    )


defs = build()
