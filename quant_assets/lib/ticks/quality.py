"""Data-quality verdicts on a built partition that row-level expectations cannot give.

A Great Expectations suite passes on an empty table ("every row is valid"); these judge the
partition as a whole against what the calendar and the raw zone say it should hold:

* coverage: on a session the calendar says was open, clean rows must exist and be at least a
  share of the raw rows (two symbols going from 16 raw rows to 0 clean must fail);
* quarantine rate per source: one vendor's feed losing most of its rows to cleaning rules is a
  feed problem, even when the other sources are fine.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.compute as pc

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.ticks.sessions import is_session, market_for


@dataclass(frozen=True)
class Coverage:
    raw: int
    clean: int
    open_session: bool
    min_share: float

    @property
    def share(self) -> float | None:
        return self.clean / self.raw if self.raw else None

    @property
    def passed(self) -> bool:
        """A closed day may be empty; an open one needs clean rows, at least ``min_share`` of
        the raw ones."""
        if not self.open_session:
            return True
        return self.clean > 0 and self.clean >= self.min_share * self.raw


def coverage(entry: ManifestEntry, min_share: float) -> Coverage:
    """Coverage of one (session, symbol) build, from its manifest counts and the calendar."""
    return Coverage(
        raw=entry.raw_rows,
        clean=entry.clean_rows,
        open_session=is_session(market_for(entry.symbol).calendar, entry.session_date),
        min_share=min_share,
    )


@dataclass(frozen=True)
class SourceQuarantine:
    raw: int
    quarantined: int

    @property
    def share(self) -> float:
        return self.quarantined / self.raw if self.raw else 0.0


def _counts_by_source(store: ObjectStore, key: str) -> dict[str, int]:
    table = store.read_parquet(key, columns=["source"])
    if table.num_rows == 0:
        return {}
    return {
        str(c["values"]): int(c["counts"])
        for c in pc.value_counts(table.column("source")).to_pylist()
    }


def quarantine_by_source(store: ObjectStore, entry: ManifestEntry) -> dict[str, SourceQuarantine]:
    """Raw and quarantined rows of each source (adapter) in one (session, symbol) build."""
    raw = _counts_by_source(store, entry.raw_key)
    quarantined = _counts_by_source(store, entry.quarantine_key)
    return {
        source: SourceQuarantine(raw=n, quarantined=quarantined.get(source, 0))
        for source, n in sorted(raw.items())
    }
