"""Builds of the tick lake, independent of the orchestrator: one market-session at a time.

A market-session (a Dagster partition) holds every symbol of that market with data that
session; its symbols are split into chunks (``plan_chunks``). A chunk's objects are written by
``build_chunk`` (no warehouse access, so chunks can run in parallel processes or containers),
then each chunk is committed to the manifest in one transaction (``commit_session``, or
``build_session`` in one process), and objects no manifest row points at are swept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.storage.object_store import ObjectStore, parquet_num_rows
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.cleaning import CleaningConfig, CleaningResult, clean_ticks
from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.lake import (
    Dataset,
    hashes_fingerprint,
    merge_pieces,
    partition_object,
    session_prefix,
    table_fingerprint,
)
from quant_assets.lib.ticks.landing import STAGED, staged_piece_keys, sweep_stale_uploads
from quant_assets.lib.ticks.manifest import ManifestEntry, ManifestStatus, ManifestStore
from quant_assets.lib.ticks.row_hash import mix_column, row_hashes
from quant_assets.lib.ticks.sessions import market_for, session_windows
from quant_assets.lib.ticks.streaming_build import (
    Partition,
    StreamedPartition,
    build_streaming,
    footer,
)

SyntheticSource = Callable[[str, date], pa.Table]
DEFAULT_CHUNK_SIZE = 256  # symbols per manifest commit (and per fan-out step)
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)  # symbols built at once

_STAGED_SYMBOL = re.compile(r"/symbol=(?P<s>[^/]+)/[^/]+\.parquet$")


def staged_symbols(store: ObjectStore, session: date, market: str) -> set[str]:
    """Symbols of ``market`` with staged vendor pieces for ``session``."""
    found = set()
    for key in store.list(session_prefix(STAGED, session)):
        m = _STAGED_SYMBOL.search(key)
        if m and market_for(m["s"]).name == market:
            found.add(m["s"])
    return found


def session_symbols(
    store: ObjectStore,
    warehouse: ManifestStore,
    session: date,
    market: str,
    synthetic_symbols: Sequence[str] = (),
) -> list[str]:
    """Every symbol a build of (session, market) covers: staged vendor data, registered
    synthetic symbols of the market, and symbols already in the manifest (kept current)."""
    symbols = staged_symbols(store, session, market)
    symbols.update(s for s in synthetic_symbols if market_for(s).name == market)
    symbols.update(e.symbol for e in manifest.session_entries(warehouse, session, market))
    return sorted(symbols)


def chunks(symbols: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(symbols), max(1, size)):
        yield list(symbols[i : i + size])


def _put(
    store: ObjectStore,
    dataset: str,
    session: date,
    symbol: str,
    table: pa.Table,
    version: str,
    copy_from: str | None = None,
) -> str:
    key = partition_object(dataset, session, symbol, version)
    if store.exists(key):  # same version = same rows: nothing to write
        return key
    if copy_from is not None:
        store.copy(copy_from, key)
    else:
        store.write_parquet(key, table)
    return key


def build_symbol(
    store: ObjectStore,
    session: date,
    symbol: str,
    cleaning: CleaningConfig | None = None,
    synthetic: SyntheticSource | None = None,
    run_id: str | None = None,
) -> ManifestEntry:
    """Raw (staged pieces merged, plus synthetic ticks for synthetic symbols), clean and
    quarantine of one (session, symbol), written as new objects; not yet committed. Above
    ``max_rows_in_memory`` rows the partition is built in windows (``streaming_build``), with
    the same objects."""
    keys = staged_piece_keys(store, session, symbol)
    generated = None
    if synthetic is not None and instrument_for(symbol).synthetic:
        generated = synthetic(symbol, session)
    market = market_for(symbol)
    windows = session_windows(market.calendar, session)
    config = cleaning or CleaningConfig()
    rows = sum(footer(store, k).num_rows for k in keys)
    rows += generated.num_rows if generated is not None else 0
    if rows > config.max_rows_in_memory:
        part = Partition(session, symbol, market.calendar, windows, config)
        streamed = build_streaming(store, part, keys, generated)
        return _streamed_entry(session, symbol, market.name, streamed, run_id)
    pieces = [store.read_parquet(k) for k in keys]
    if generated is not None:
        pieces.append(generated)
    raw = merge_pieces(pieces)
    # One staged piece already holding the canonical rows is the raw object's bytes.
    copy_from = keys[0] if len(pieces) == 1 and keys and pieces[0].schema == raw.schema else None
    result = clean_ticks(raw, windows, config, calendar=market.calendar)
    raw_v, clean_v, quarantine_v = _versions(raw, result)
    raw_key = _put(store, Dataset.RAW, session, symbol, raw, raw_v, copy_from)
    clean_key = _put(store, Dataset.CLEAN, session, symbol, result.clean, clean_v)
    quarantine_key = _put(
        store, Dataset.QUARANTINE, session, symbol, result.quarantine, quarantine_v
    )
    return ManifestEntry(
        session_date=session,
        symbol=symbol,
        market=market.name,
        status=ManifestStatus.BUILT if raw.num_rows else ManifestStatus.EMPTY,
        raw_rows=raw.num_rows,
        clean_rows=result.clean.num_rows,
        quarantined_rows=result.quarantine.num_rows,
        raw_version=_version(raw_key),
        clean_version=_version(clean_key),
        quarantine_version=_version(quarantine_key),
        raw_key=raw_key,
        clean_key=clean_key,
        quarantine_key=quarantine_key,
        reasons={k: int(v) for k, v in result.reason_counts.items() if v},
        run_id=run_id,
        possible_duplicates=result.possible_duplicates,
    )


def _streamed_entry(
    session: date, symbol: str, market: str, built: StreamedPartition, run_id: str | None
) -> ManifestEntry:
    return ManifestEntry(
        session_date=session,
        symbol=symbol,
        market=market,
        status=ManifestStatus.BUILT,
        raw_rows=built.raw_rows,
        clean_rows=built.clean_rows,
        quarantined_rows=built.quarantined_rows,
        raw_version=_version(built.raw_key),
        clean_version=_version(built.clean_key),
        quarantine_version=_version(built.quarantine_key),
        raw_key=built.raw_key,
        clean_key=built.clean_key,
        quarantine_key=built.quarantine_key,
        reasons={k: int(v) for k, v in built.reason_counts.items() if v},
        run_id=run_id,
        possible_duplicates=built.possible_duplicates,
    )


def _versions(raw: pa.Table, result: CleaningResult) -> tuple[str, str, str]:
    """Content versions of raw, clean and quarantine, hashing the raw rows once: clean rows
    are raw rows, and a quarantined row is a raw row with its reason appended (the same
    values :func:`lake.table_fingerprint` computes from each table)."""
    if result.codes is None:
        raw_v, clean_v, quarantine_v = map(
            table_fingerprint, (raw, result.clean, result.quarantine)
        )
        return raw_v, clean_v, quarantine_v
    hashes = row_hashes(raw) if raw.num_rows else np.zeros(0, np.uint64)
    bad = np.flatnonzero(result.codes != 0)
    quarantined = hashes[bad]
    if bad.size:
        mix_column(quarantined, result.quarantine.column("reason"))
    return (
        hashes_fingerprint(hashes),
        hashes_fingerprint(hashes[np.flatnonzero(result.codes == 0)]),
        hashes_fingerprint(quarantined),
    )


def _version(key: str) -> str:
    return key.rsplit("/part-", 1)[1].removesuffix(".parquet")


@dataclass
class SessionBuild:
    session: date
    market: str
    entries: list[ManifestEntry] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)

    @property
    def raw_rows(self) -> int:
        return sum(e.raw_rows for e in self.entries)

    @property
    def clean_rows(self) -> int:
        return sum(e.clean_rows for e in self.entries)

    @property
    def quarantined_rows(self) -> int:
        return sum(e.quarantined_rows for e in self.entries)

    @property
    def possible_duplicates(self) -> int:
        return sum(e.possible_duplicates for e in self.entries)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            for k, v in e.reasons.items():
                out[k] = out.get(k, 0) + v
        return out


@dataclass(frozen=True)
class SymbolChunk:
    """Symbols of one market-session built together: one executor step of a fan-out, or one
    manifest transaction of an in-process build."""

    session: date
    market: str
    index: int
    symbols: tuple[str, ...]

    @property
    def mapping_key(self) -> str:
        """'d20240102_XNYS_c00003': a Dagster dynamic mapping key (letters, digits, _)."""
        return f"d{self.session:%Y%m%d}_{self.market}_c{self.index:05d}"


def plan_chunks(
    session: date, market: str, symbols: Sequence[str], size: int = DEFAULT_CHUNK_SIZE
) -> list[SymbolChunk]:
    return [
        SymbolChunk(session, market, i, tuple(chunk))
        for i, chunk in enumerate(chunks(symbols, size))
    ]


def build_chunk(
    store: ObjectStore,
    chunk: SymbolChunk,
    cleaning: CleaningConfig | None = None,
    synthetic: SyntheticSource | None = None,
    run_id: str | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
) -> list[ManifestEntry]:
    """Write the objects of every symbol of ``chunk``; nothing is committed (no warehouse:
    chunks built in parallel processes or containers need no database connection).

    Symbols are built on ``workers`` threads (Parquet, Arrow compute and most numpy release
    the GIL), so memory holds up to ``workers`` partitions; entries keep the chunk's order."""
    config = cleaning or CleaningConfig()  # reads the mappings' tables once, not per symbol

    def one(symbol: str) -> ManifestEntry:
        return build_symbol(store, chunk.session, symbol, config, synthetic, run_id)

    if workers <= 1 or len(chunk.symbols) <= 1:
        return [one(s) for s in chunk.symbols]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, chunk.symbols))


def sweep(store: ObjectStore, warehouse: ManifestStore, session: date, market: str) -> list[str]:
    """After a commit: objects no manifest row points at, and stale staged uploads."""
    return manifest.sweep(store, warehouse, session, market) + sweep_stale_uploads(store, session)


def commit_session(
    store: ObjectStore,
    warehouse: ManifestStore,
    session: date,
    market: str,
    built: Sequence[Sequence[ManifestEntry]],
) -> SessionBuild:
    """Commit each built chunk of (session, market) in its own transaction, after all of
    their objects were written, then sweep the objects no manifest row points at."""
    build = SessionBuild(session, market)
    for entries in built:
        mine = [e for e in entries if e.session_date == session and e.market == market]
        manifest.commit(warehouse, mine)
        build.entries.extend(mine)
    build.swept = sweep(store, warehouse, session, market)
    return build


def build_session(
    store: ObjectStore,
    warehouse: ManifestStore,
    session: date,
    market: str,
    symbols: Sequence[str],
    *,
    cleaning: CleaningConfig | None = None,
    synthetic: SyntheticSource | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    run_id: str | None = None,
    workers: int = DEFAULT_WORKERS,
) -> SessionBuild:
    """Build ``symbols`` of one market-session in this process, committing each chunk as
    soon as it is written, then sweep orphans."""
    build = SessionBuild(session, market)
    cleaning = cleaning or CleaningConfig()  # reads the mappings' tables once, not per symbol
    for chunk in plan_chunks(session, market, symbols, chunk_size):
        entries = build_chunk(store, chunk, cleaning, synthetic, run_id, workers=workers)
        manifest.commit(warehouse, entries)
        build.entries.extend(entries)
    build.swept = sweep(store, warehouse, session, market)
    return build


def raw_source_counts(store: ObjectStore, entry: ManifestEntry) -> dict[str, int]:
    table = store.read_parquet(entry.raw_key, columns=["source"])
    counts = pc.value_counts(table.column("source")).to_pylist() if table.num_rows else []
    return {c["values"]: int(c["counts"]) for c in counts}


@dataclass(frozen=True)
class Reconciliation:
    raw: int
    clean: int
    quarantined: int

    @property
    def balanced(self) -> bool:
        return self.raw == self.clean + self.quarantined


def reconcile(store: ObjectStore, entry: ManifestEntry) -> Reconciliation:
    """Row counts of the three zones from the committed objects' Parquet footers."""
    return Reconciliation(
        raw=parquet_num_rows(store, entry.raw_key),
        clean=parquet_num_rows(store, entry.clean_key),
        quarantined=parquet_num_rows(store, entry.quarantine_key),
    )


def close_gap_minutes(store: ObjectStore, entry: ManifestEntry) -> float | None:
    """Minutes between the last clean tick and the session's close; None on a closed session
    (nothing expected) and inf when the session has no data at all."""
    windows = session_windows(market_for(entry.symbol).calendar, entry.session_date)
    if windows.size == 0:
        return None
    if entry.clean_rows == 0:
        return float("inf")
    table = store.read_parquet(entry.clean_key, columns=["ts_event"])
    last = pc.max(table.column("ts_event").cast(pa.int64())).as_py()
    return max(0.0, (int(windows[-1, 1]) - int(last)) / 60e9)
