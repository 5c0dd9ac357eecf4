"""Reading a vendor file (CSV, Parquet, JSON lines; plain, gz, zst or zip) with a mapping, whole.

Columns are located (``columns``), read as text (``csv_text``, Parquet, ``_jsonl``), converted to
canonical ticks (``mapped_convert``) and, for ``quote_book`` mappings, consolidated into
two-sided quotes (``book``). Landing reads files batch by batch instead (``streaming``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from quant_assets.lib.ticks.adapters._jsonl import read_jsonl
from quant_assets.lib.ticks.adapters.book import consolidate_quotes
from quant_assets.lib.ticks.adapters.columns import column_refs, resolve_columns
from quant_assets.lib.ticks.adapters.containers import open_container
from quant_assets.lib.ticks.adapters.csv_text import read_csv_text
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, relocated
from quant_assets.lib.ticks.adapters.located import Located
from quant_assets.lib.ticks.adapters.mapped_convert import VendorRead, convert_raw
from quant_assets.lib.ticks.adapters.mapping import ColumnRef, VendorMapping

__all__ = ["VendorRead", "read_mapped", "read_mapped_report"]


def _load(
    p: Path, m: VendorMapping, refs: dict[str, ColumnRef]
) -> tuple[pa.Table, dict[str, str], Located]:
    if m.format == "jsonl":
        positional = [r for r in refs.values() if isinstance(r, int)]
        if positional:
            raise MalformedFileError(p, f"JSON lines columns are names or paths, not {positional}")
        resolved = {f: str(r) for f, r in refs.items()}
        raw, lines = read_jsonl(p, m.jsonl.prefix, list(dict.fromkeys(resolved.values())))
        return raw, resolved, Located(p, m, lines)
    resolved, wanted = resolve_columns(p, m, refs)
    if m.format == "csv":
        raw = read_csv_text(p, m, wanted)
    else:
        try:
            raw = pq.read_table(p, columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MalformedFileError(p, f"could not read Parquet: {exc}") from exc
    return raw, resolved, Located(p, m)


def read_mapped_report(
    path: str | Path, mapping: VendorMapping, *, symbol: str | None = None
) -> VendorRead:
    """Read one vendor file described by ``mapping`` into canonical ticks (vendor order), with
    the rows a filter skipped. Errors name the file (``archive.zip!member`` inside a zip), the
    line or row and the column."""
    p = Path(path)
    with open_container(p, mapping.member) as opened:
        try:
            return _read(opened.path, mapping, symbol)
        except MalformedFileError as exc:
            raise relocated(exc, str(opened.path), opened.display) from exc


def read_mapped(path: str | Path, mapping: VendorMapping, *, symbol: str | None = None) -> pa.Table:
    """Canonical ticks only (see :func:`read_mapped_report`)."""
    return read_mapped_report(path, mapping, symbol=symbol).table


def _read(p: Path, m: VendorMapping, symbol: str | None) -> VendorRead:
    raw, resolved, loc = _load(p, m, column_refs(m))
    read = convert_raw(p, m, raw, resolved, loc, symbol)
    if m.quote_book == "none":
        return read
    table = consolidate_quotes(read.table, by_venue=m.quote_book == "venue")
    return VendorRead(table=table, rows_read=read.rows_read, skipped=read.skipped)
