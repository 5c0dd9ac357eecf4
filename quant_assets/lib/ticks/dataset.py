"""Reading clean ticks back out of the lake for research: a symbol over a set of sessions.

The manifest says which object holds each (session, symbol) and its content version, recorded
at build time, so a research read is a plain Parquet read (no re-hashing) and calibrations and
trained policies still record exactly which data they saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.ticks.schema import conform, empty_ticks


@dataclass(frozen=True)
class PartitionRef:
    partition_key: str  # "2024-01-02|SPY": session date | symbol
    rows: int
    data_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_clean_ticks(
    store: ObjectStore, entries: Iterable[ManifestEntry]
) -> tuple[pa.Table, list[PartitionRef]]:
    """Concatenate the clean objects of manifest ``entries`` (in session order); sessions
    without clean rows (closed, or everything quarantined) are skipped, not invented."""
    tables: list[pa.Table] = []
    refs: list[PartitionRef] = []
    for entry in sorted(entries, key=lambda e: (e.session_date, e.symbol)):
        if entry.clean_rows == 0:
            continue
        tables.append(conform(store.read_parquet(entry.clean_key)))  # older objects: no flag/clock
        refs.append(PartitionRef(entry.partition_key, entry.clean_rows, entry.clean_version))
    return (pa.concat_tables(tables) if tables else empty_ticks()), refs
