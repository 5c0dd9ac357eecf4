"""Reading clean ticks back out of the lake for research: a symbol over a set of days.

Returns what was read together with each partition's content version, so calibrations and
trained policies can record exactly which data they saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.lake import Dataset, partition_object, table_fingerprint
from quant_assets.lib.ticks.schema import conform, empty_ticks


@dataclass(frozen=True)
class PartitionRef:
    partition_key: str  # "2024-01-02|SPY"
    rows: int
    data_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_clean_ticks(
    store: ObjectStore, symbol: str, days: Iterable[date]
) -> tuple[pa.Table, list[PartitionRef]]:
    """Concatenate the clean partitions of ``symbol`` that exist among ``days`` (in day order).

    Days without a clean partition (closed sessions, not yet built) are skipped, not invented.
    """
    tables: list[pa.Table] = []
    refs: list[PartitionRef] = []
    for day in sorted(set(days)):
        key = partition_object(Dataset.CLEAN, day, symbol)
        if not store.exists(key):
            continue
        table = store.read_parquet(key)
        if table.num_rows == 0:
            continue
        tables.append(conform(table))
        refs.append(
            PartitionRef(f"{day.isoformat()}|{symbol}", table.num_rows, table_fingerprint(table))
        )
    return (pa.concat_tables(tables) if tables else empty_ticks()), refs
