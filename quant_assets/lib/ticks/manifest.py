"""The tick lake's manifest: which objects hold each (session, symbol), with counts and versions.

Why a manifest: a Dagster partition is a whole market-session (so the partition count does not
grow with the symbols), but sensors, checks, lineage and research reads need per-symbol facts.
The manifest row is also the *commit point* of a build: objects are written first under new,
content-named keys, then the rows of a symbol chunk are upserted in one transaction. Readers
trust only the manifest, so a killed build leaves the previous version (or none), and objects
no row points at (a killed build's, a replaced version's, temporary uploads) are swept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.lake import Dataset, session_prefix
from quant_assets.lib.ticks.sessions import market_for


class ManifestStatus:
    BUILT = "built"  # at least one raw row
    EMPTY = "empty"  # a closed session or a symbol without data: empty objects, still current


@dataclass(frozen=True)
class ManifestEntry:
    """One (session, symbol) build: its three objects, row counts and content versions."""

    session_date: date
    symbol: str
    market: str
    status: str
    raw_rows: int
    clean_rows: int
    quarantined_rows: int
    raw_version: str
    clean_version: str
    quarantine_version: str
    raw_key: str
    clean_key: str
    quarantine_key: str
    reasons: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    built_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    possible_duplicates: int = 0  # identical rows kept by this build (metadata, not stored)

    @property
    def partition_key(self) -> str:
        """'2024-01-02|SPY': the (session, symbol) in lineage records."""
        return f"{self.session_date.isoformat()}|{self.symbol}"

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.clean_rows + self.quarantined_rows

    def keys(self) -> dict[str, str]:
        return {
            Dataset.RAW: self.raw_key,
            Dataset.CLEAN: self.clean_key,
            Dataset.QUARANTINE: self.quarantine_key,
        }

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("possible_duplicates")
        row["reasons"] = json.dumps(self.reasons, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ManifestEntry:
        values = dict(row)
        values["reasons"] = json.loads(values.get("reasons") or "{}")
        built = values["built_at"]
        values["built_at"] = built if built.tzinfo else built.replace(tzinfo=UTC)
        for name in ("raw_rows", "clean_rows", "quarantined_rows"):
            values[name] = int(values[name])
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


class ManifestStore(Protocol):
    """What the manifest needs from the warehouse (both backends implement it)."""

    def upsert_tick_manifest(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def tick_manifest(
        self,
        *,
        market: str | None = None,
        symbol: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[dict[str, Any]]: ...


class ManifestQueries(ManifestStore, Protocol):
    """A manifest store that also runs the named read queries (both warehouses do)."""

    def query_named(self, name: str, params: Mapping[str, Any] | None = None) -> Any: ...


def commit(warehouse: ManifestStore, entries: Sequence[ManifestEntry]) -> None:
    """Make ``entries`` current, all or none (one transaction)."""
    if entries:
        warehouse.upsert_tick_manifest([e.to_row() for e in entries])


def read(
    warehouse: ManifestStore,
    *,
    market: str | None = None,
    symbol: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[ManifestEntry]:
    """Current entries, ordered by session then symbol."""
    rows = warehouse.tick_manifest(market=market, symbol=symbol, start=start, end=end)
    return [ManifestEntry.from_row(r) for r in rows]


def session_entries(warehouse: ManifestStore, session: date, market: str) -> list[ManifestEntry]:
    return read(warehouse, market=market, start=session, end=session)


def clean_days(
    warehouse: ManifestStore, symbol: str, start: date | None = None, end: date | None = None
) -> list[date]:
    """Sessions of ``symbol`` with clean rows (training and retraining inputs)."""
    entries = read(warehouse, symbol=symbol, start=start, end=end)
    return [e.session_date for e in entries if e.clean_rows > 0]


def clean_days_by_symbol(warehouse: ManifestQueries) -> dict[str, list[date]]:
    """Sessions with clean rows of every symbol, in one query (not one per symbol)."""
    out: dict[str, list[date]] = {}
    for row in warehouse.query_named("tick_manifest_clean_days").to_pylist():
        day = row["session_date"]
        out.setdefault(row["symbol"], []).append(day.date() if isinstance(day, datetime) else day)
    return out


_SYMBOL_RE = re.compile(r"/symbol=(?P<s>[^/]+)/")


def sweep(store: ObjectStore, warehouse: ManifestStore, session: date, market: str) -> list[str]:
    """Delete objects of ``market``'s symbols in ``session`` that no manifest row points at
    (a killed build's objects, replaced versions, temporary uploads). Returns deleted keys.

    Runs after a session's commit, reading the manifest afresh; a market-session is built by
    one run at a time (its Dagster partition), so no other build's objects are in flight.
    """
    current = {k for e in session_entries(warehouse, session, market) for k in e.keys().values()}
    deleted = []
    for dataset in Dataset:
        for key in store.list(session_prefix(dataset, session)):
            m = _SYMBOL_RE.search(key)
            if m is None or key in current:
                continue
            if market_for(m["s"]).name != market:
                continue
            store.delete(key)
            deleted.append(key)
    return deleted


def by_symbol(entries: Iterable[ManifestEntry]) -> dict[str, list[ManifestEntry]]:
    out: dict[str, list[ManifestEntry]] = {}
    for e in entries:
        out.setdefault(e.symbol, []).append(e)
    return out
