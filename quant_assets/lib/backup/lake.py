"""Copy objects between two object stores (lake → backup, backup → a re-created lake)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from quant_assets.lib.storage.object_store import ObjectStore


@dataclass(frozen=True)
class SyncReport:
    copied: int
    skipped: int  # already present with the same content
    bytes_copied: int
    keys: tuple[str, ...]  # every key under the prefixes, copied or not


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sync_objects(
    src: ObjectStore,
    dst: ObjectStore,
    prefixes: Sequence[str] = ("",),
    *,
    exclude: Sequence[str] = (),
) -> SyncReport:
    """Make ``dst`` hold every object of ``src`` under ``prefixes`` with the same bytes.

    Keys starting with an ``exclude`` prefix are left out (e.g. ``backups/`` when the backup
    lives in the same bucket). Objects already in ``dst`` with the same SHA-256 are skipped, so
    a re-run after an interruption copies only what is missing. Each copy is read back and
    compared.
    """
    copied = skipped = nbytes = 0
    keys: list[str] = []
    for prefix in prefixes:
        for key in sorted(src.list(prefix)):
            if any(key.startswith(x) for x in exclude):
                continue
            keys.append(key)
            data = src.read_bytes(key)
            digest = _digest(data)
            if dst.exists(key) and _digest(dst.read_bytes(key)) == digest:
                skipped += 1
                continue
            dst.write_bytes(key, data)
            if _digest(dst.read_bytes(key)) != digest:
                raise OSError(f"copy of {key} to {dst.uri(key)} does not read back identically")
            copied += 1
            nbytes += len(data)
    return SyncReport(copied, skipped, nbytes, tuple(keys))
