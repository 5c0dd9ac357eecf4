"""The landing zone: where vendor files are dropped, and what happens to each of them.

``landing/incoming/<source>/<file>`` is parsed by the adapter named by ``<source>`` (or detected
when it is ``auto``), split into per-(session, symbol) pieces under ``landing/staged/`` and
archived;
a malformed file moves to ``landing/rejected/`` with the reason written beside it, so nothing is
lost and the other files carry on.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.adapters import detect_source, read_vendor_file
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.instruments import normalize_symbol
from quant_assets.lib.ticks.lake import partition_prefix
from quant_assets.lib.ticks.session_guard import split_in_range
from quant_assets.lib.ticks.sessions import SessionRange

INCOMING = "landing/incoming"
STAGED = "landing/staged"
ARCHIVE = "landing/archive"
REJECTED = "landing/rejected"
AUTO_SOURCE = "auto"

_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")


@dataclass(frozen=True)
class LandedFile:
    key: str  # object key under landing/incoming
    source: str
    version: str = ""  # size-mtime of the object when listed

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def file_id(self) -> str:
        """Stable id of the file across re-ingestion: staged pieces are named by it."""
        return hashlib.sha256(self.relative.encode()).hexdigest()[:16]

    @property
    def relative(self) -> str:
        return self.key[len(INCOMING) + 1 :]

    @property
    def partition_key(self) -> str:
        """Dagster partition key of this file (the landing_files asset)."""
        return _UNSAFE.sub("_", self.relative).replace("...", "_")


def list_incoming(store: ObjectStore) -> list[LandedFile]:
    files = []
    for info in store.list_info(INCOMING):
        rel = info.key[len(INCOMING) + 1 :]
        if "/" not in rel or PurePosixPath(rel).name.startswith("."):
            continue  # files must sit in a <source>/ folder; dotfiles are partial uploads
        files.append(LandedFile(key=info.key, source=rel.split("/", 1)[0], version=info.version))
    return files


def find_incoming(store: ObjectStore, partition_key: str) -> LandedFile:
    for f in list_incoming(store):
        if f.partition_key == partition_key:
            return f
    raise FileNotFoundError(f"no file for landing partition {partition_key!r} in {INCOMING}/")


@dataclass(frozen=True)
class IngestResult:
    file: LandedFile
    source: str
    rows: int
    partitions: dict[tuple[date, str], int]  # (day, symbol) -> rows
    archived_to: str


def _read(store: ObjectStore, f: LandedFile) -> tuple[str, pa.Table]:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / f.name  # keep the name: adapters detect formats from it
        local.write_bytes(store.read_bytes(f.key))
        source = detect_source(local) if f.source == AUTO_SOURCE else f.source
        try:
            table = read_vendor_file(local, source)
        except MalformedFileError as exc:  # name the landed object, not our temporary copy
            raise MalformedFileError(
                store.uri(f.key), exc.problem, line=exc.line, column=exc.column, kind=exc.kind
            ) from exc
    return source, normalize_symbols(table)


def normalize_symbols(table: pa.Table) -> pa.Table:
    """Rewrite vendor symbol spellings to partition-safe symbols (distinct values only)."""
    symbols = pc.unique(table.column("symbol")).to_pylist()
    normalized = [normalize_symbol(s) for s in symbols]
    if normalized == symbols:
        return table
    idx = pc.index_in(table.column("symbol"), value_set=pa.array(symbols, pa.string()))
    column = pa.array(normalized, pa.string()).take(idx)
    return table.set_column(table.schema.get_field_index("symbol"), "symbol", column)


def staged_key(day: date, symbol: str, file_id: str) -> str:
    return f"{partition_prefix(STAGED, day, symbol)}/{file_id}.parquet"


def ingest(store: ObjectStore, f: LandedFile, allowed: SessionRange | None = None) -> IngestResult:
    """Parse one landed file into staged pieces per (session, symbol), then archive it.

    On a malformed file, or one with ticks outside ``allowed`` sessions (default: the configured
    first session to tomorrow): move it to ``landing/rejected/`` with ``<name>.reason.txt`` and
    re-raise.
    """
    try:
        source, table = _read(store, f)
        parts = split_in_range(
            store.uri(f.key),
            f.name,
            store.read_bytes(f.key),
            source,
            table,
            allowed or SessionRange.current(),
        )
    except Exception as exc:
        reject(store, f, str(exc))
        raise
    for (day, symbol), piece in parts.items():
        store.write_parquet(staged_key(day, symbol, f.file_id), piece)
    archived = f"{ARCHIVE}/{f.relative}"
    store.move(f.key, archived)
    return IngestResult(
        file=f,
        source=source,
        rows=table.num_rows,
        partitions={k: v.num_rows for k, v in parts.items()},
        archived_to=archived,
    )


def reject(store: ObjectStore, f: LandedFile, reason: str) -> str:
    target = f"{REJECTED}/{f.relative}"
    stamp = datetime.now(tz=UTC).isoformat(timespec="seconds")
    store.write_bytes(f"{target}.reason.txt", f"{stamp} {reason}\n".encode())
    store.move(f.key, target)
    return target


def staged_pieces(store: ObjectStore, day: date, symbol: str) -> list[pa.Table]:
    prefix = partition_prefix(STAGED, day, symbol)
    return [store.read_parquet(k) for k in store.list(prefix) if k.endswith(".parquet")]
