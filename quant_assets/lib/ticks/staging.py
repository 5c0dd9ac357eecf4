"""One landed file's rows grouped by (session, symbol) with bounded memory.

A vendor file arrives batch by batch (``adapters.iter_vendor_reads``); each batch is split by
partition and buffered here. When the buffers pass ``budget_bytes`` they are spilled to local
Arrow IPC parts (one per partition and spill; written as is and memory-mapped back, ~4x faster
than a Parquet round trip), so memory follows the budget, not the file. Only
after the whole file parsed without error are the partitions handed out, one at a time in file
order, to be written as staged pieces: a file rejected at its last line stages nothing. A
partition is handed out as its sequence of parts, so one partition bigger than memory (a liquid
symbol's quote day) is written part by part too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa

PartitionKey = tuple[date, str]
DEFAULT_BUDGET_BYTES = 256 << 20


class PartitionSpill:
    """Buffers of rows per partition, spilled to ``folder`` past ``budget_bytes``."""

    def __init__(self, folder: Path, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes
        self._buffers: dict[PartitionKey, list[pa.Table]] = {}
        self._parts: dict[PartitionKey, list[Path]] = {}
        self._rows: dict[PartitionKey, int] = {}
        self._buffered = 0
        self.spills = 0  # how many times the buffers went to disk

    @property
    def rows(self) -> dict[PartitionKey, int]:
        return dict(self._rows)

    def add(self, parts: dict[PartitionKey, pa.Table]) -> None:
        for key, table in parts.items():
            if not table.num_rows:
                continue
            self._buffers.setdefault(key, []).append(table)
            self._rows[key] = self._rows.get(key, 0) + table.num_rows
            self._buffered += table.nbytes
        if self._buffered > self.budget_bytes:
            self.spill()

    def spill(self) -> None:
        """Write every buffer to a local Arrow IPC part and free it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for i, (key, tables) in enumerate(self._buffers.items()):
            part = self.folder / f"spill{self.spills:05d}-{i:06d}.arrow"
            if any(t.schema != tables[0].schema for t in tables):
                tables = [concat_pieces(tables)]
            with pa.OSFile(str(part), "wb") as sink, pa.ipc.new_file(sink, tables[0].schema) as out:
                for table in tables:  # batch by batch: no concatenated copy
                    out.write_table(table)
            self._parts.setdefault(key, []).append(part)
        self._buffers.clear()
        self._buffered = 0
        self.spills += 1

    def partitions(self) -> Iterator[tuple[PartitionKey, int, Iterator[pa.Table]]]:
        """Each partition's key, row count and rows in file order as a sequence of tables (its
        spilled parts, memory-mapped one at a time, then its buffers; a part is deleted once
        the sequence is consumed)."""
        for key in list(self._rows):
            yield key, self._rows[key], self._pieces(key)

    def _pieces(self, key: PartitionKey) -> Iterator[pa.Table]:
        parts = self._parts.pop(key, [])
        try:
            for part in parts:
                yield _read_part(part)
            yield from self._buffers.pop(key, [])
        finally:
            for part in parts:
                part.unlink(missing_ok=True)

    def tables(self) -> Iterator[tuple[PartitionKey, pa.Table]]:
        """Each partition's rows in file order as one table, one partition at a time."""
        for key, _, pieces in self.partitions():
            yield key, concat_pieces(list(pieces))


def concat_pieces(tables: list[pa.Table]) -> pa.Table:
    """One table; batches of different adapters' column sets get nulls where they lack one."""
    return pa.concat_tables(tables, promote_options="default")


def _read_part(path: Path) -> pa.Table:
    """A spilled part, memory-mapped (the mapping lives as long as the table's buffers)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()
