from __future__ import annotations

from pathlib import Path

from quant_assets.lib.backup import sync_objects
from quant_assets.lib.storage.object_store import ObjectStore


def test_sync_objects_copies_then_skips_identical(store: ObjectStore, tmp_path: Path) -> None:
    store.write_bytes("ticks_raw/year=2024/a.parquet", b"raw-a")
    store.write_bytes("ticks_clean/year=2024/a.parquet", b"clean-a")
    store.write_bytes("landing/incoming/x.csv", b"not synced")
    backup = ObjectStore.local(tmp_path / "backup")
    first = sync_objects(store, backup, ["ticks_raw/", "ticks_clean/"])
    assert (first.copied, first.skipped, first.bytes_copied) == (2, 0, 12)
    assert backup.read_bytes("ticks_clean/year=2024/a.parquet") == b"clean-a"
    assert not backup.exists("landing/incoming/x.csv")
    again = sync_objects(store, backup, ["ticks_raw/", "ticks_clean/"])
    assert (again.copied, again.skipped) == (0, 2)


def test_sync_objects_changed_object_is_copied_again(store: ObjectStore, tmp_path: Path) -> None:
    store.write_bytes("ticks_raw/a.parquet", b"v1")
    backup = ObjectStore.local(tmp_path / "backup")
    sync_objects(store, backup, ["ticks_raw/"])
    backup.write_bytes("ticks_raw/a.parquet", b"corrupted")
    report = sync_objects(store, backup, ["ticks_raw/"])
    assert report.copied == 1
    assert backup.read_bytes("ticks_raw/a.parquet") == b"v1"


def test_sync_objects_excluded_prefix_left_out(store: ObjectStore, tmp_path: Path) -> None:
    store.write_bytes("ticks_raw/a.parquet", b"a")
    store.write_bytes("backups/warehouse/x/manifest.json", b"{}")
    report = sync_objects(store, ObjectStore.local(tmp_path / "b"), exclude=["backups/"])
    assert report.keys == ("ticks_raw/a.parquet",)
