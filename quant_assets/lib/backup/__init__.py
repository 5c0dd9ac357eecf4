"""Backups that make the stack re-creatable: the tick lake copied object by object to a durable
store, the TimescaleDB warehouse dumped table by table (COPY) beside a manifest.

Restoring is: migrate a fresh database with the project's migrations, COPY every table back,
check the row counts against the manifest; copy the lake back and check every object's hash.
"""

from quant_assets.lib.backup.lake import SyncReport, sync_objects
from quant_assets.lib.backup.warehouse import (
    BackupManifest,
    TableDump,
    backup_warehouse,
    latest_backup,
    restore_warehouse,
)

__all__ = [
    "BackupManifest",
    "SyncReport",
    "TableDump",
    "backup_warehouse",
    "latest_backup",
    "restore_warehouse",
    "sync_objects",
]
