"""Files whose ticks fall outside the lake's sessions are rejected whole, with a location.

A tick before the configured first session or after tomorrow has no partition to go to; the
file is rejected (never archived as ingested) with a reason naming the file, the line (or row)
and the vendor's time column, and the allowed range, so the other files carry on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.batch_split import split_batch
from quant_assets.lib.ticks.lake import SessionOutOfRangeError
from quant_assets.lib.ticks.sessions import SessionRange

_BINARY = (".dbn", ".dbn.zst", ".zst", ".gz", ".parquet", ".pq")


def _time_column_and_header(source: str) -> tuple[str, int]:
    """Vendor name of the event-time column and the lines before the first data row."""
    if source == "databento":
        return "ts_event", 0
    if source == "tardis":
        return "timestamp", 1
    try:
        from quant_assets.lib.ticks.adapters import load_mapping

        mapping = load_mapping(source)
    except Exception:  # an ad-hoc mapping path that moved: name the canonical column
        return "ts_event", 1
    header = mapping.csv.skip_rows + (1 if mapping.csv.header else 0)
    return str(mapping.columns.ts_event), header


def locate_row(name: str, path: Path, source: str, row: int) -> tuple[str, int, str]:
    """(kind, 1-based line or row, column) of canonical row ``row`` of a vendor file (error
    path only: the local copy at ``path`` is read again to count its lines)."""
    column, header = _time_column_and_header(source)
    if name.lower().endswith(_BINARY):
        return "row", row + 1, column
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    nonblank = [i for i, text in enumerate(lines) if text.strip()]
    target = header + row
    line = nonblank[target] + 1 if target < len(nonblank) else row + header + 1
    return "line", line, column


def split_in_range(
    uri: str,
    name: str,
    path: Path,
    source: str,
    table: pa.Table,
    allowed: SessionRange,
    row_offset: int = 0,
) -> dict[tuple[date, str], pa.Table]:
    """:func:`batch_split.split_batch` that turns an out-of-range tick into a located file
    error; ``table`` holds the file's rows from ``row_offset`` on (a record batch)."""
    try:
        return split_batch(table, allowed)
    except SessionOutOfRangeError as exc:
        kind, line, column = locate_row(name, path, source, row_offset + exc.row)
        raise MalformedFileError(uri, str(exc), line=line, column=column, kind=kind) from exc
