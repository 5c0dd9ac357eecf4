"""``quant backup`` / ``quant restore``: what makes the stack re-creatable from the repo plus a
backup store (a local folder or ``s3://bucket/prefix``, credentials from ``AWS_*``).

``backup`` copies the object store (tick lake, landing archive, artifacts, metrics archive) and
dumps the warehouse; ``restore`` migrates the (new, empty) warehouse with the project's
migrations, loads the latest dump and copies the objects back. Prod deployment only (S3 +
TimescaleDB); the local deployment's data root is a folder to copy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from quant_assets.lib.settings import process_environment

if TYPE_CHECKING:
    from quant_assets.lib.storage.object_store import ObjectStore


def _backup_store(uri: str) -> ObjectStore:
    from quant_assets.lib.storage.object_store import ObjectStore, S3Location

    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return ObjectStore.s3(
            S3Location(
                bucket=bucket,
                prefix=prefix.strip("/"),
                endpoint_url=process_environment().get("AWS_ENDPOINT_URL") or None,
                region=process_environment().get("AWS_REGION") or None,
            )
        )
    return ObjectStore.local(uri)


def _platform() -> tuple[str, ObjectStore]:
    from quant_assets.lib.settings import Deployment, Settings
    from resources.object_store import ObjectStoreResource

    settings = Settings.from_env()
    if settings.deployment is not Deployment.PROD or not settings.tsdb_dsn:
        raise click.ClickException("backup/restore need QUANT_DEPLOYMENT=prod (S3 + TimescaleDB)")
    return settings.tsdb_dsn, ObjectStoreResource.from_settings(settings).get_store()


@click.command()
@click.option("--to", "target", required=True, help="backup folder or s3://bucket/prefix")
def backup(target: str) -> None:
    """Copy the object store and dump the warehouse to TARGET."""
    from quant_assets.lib.backup import backup_warehouse, sync_objects

    dsn, lake = _platform()
    dest = _backup_store(target)
    objects = sync_objects(lake, dest, exclude=["backups/"])
    manifest = backup_warehouse(dsn, dest)
    rows = sum(t.rows for t in manifest.tables)
    click.echo(
        f"backup {manifest.stamp}: {len(objects.keys)} objects ({objects.copied} new), "
        f"{len(manifest.tables)} tables, {rows:,} rows"
    )


@click.command()
@click.option("--from", "source", required=True, help="backup folder or s3://bucket/prefix")
def restore(source: str) -> None:
    """Migrate the empty warehouse, load the latest dump from SOURCE, copy the objects back."""
    from quant_assets.lib.backup import latest_backup, restore_warehouse, sync_objects
    from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

    dsn, lake = _platform()
    src = _backup_store(source)
    manifest = latest_backup(src)
    with TimescaleWarehouse(dsn) as wh:
        wh.migrate()
    rows = restore_warehouse(dsn, src, manifest)
    objects = sync_objects(src, lake, exclude=["backups/"])
    click.echo(
        f"restored {manifest.stamp}: {sum(rows.values()):,} rows in {len(rows)} tables, "
        f"{len(objects.keys)} objects"
    )


@click.command()
@click.option(
    "--file",
    "vendor_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="vendor tick file to land",
)
@click.option("--source", default="auto", show_default=True)
def smoke(vendor_file: Path, source: str) -> None:
    """Land FILE, build its raw and clean partitions, log and read back a metric (prod)."""
    from quant_assets.smoke import SmokeError, smoke_flow

    dsn, lake = _platform()
    run_id = f"smoke-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}"
    try:
        clean = smoke_flow(lake, dsn, vendor_file, run_id, source)
    except SmokeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"smoke ok: {len(clean)} clean partitions, {sum(clean.values()):,} rows ({run_id})")


def register(group: click.Group) -> None:
    for command in (backup, restore, smoke):
        group.add_command(command)
