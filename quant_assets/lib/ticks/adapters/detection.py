"""Which mapping reads a file: its header against every mapping's columns.

Headerless, position-based and JSON-lines mappings never auto-match (nothing in the file names
their columns); those files are landed under a source folder naming their mapping.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quant_assets.lib.ticks.adapters.columns import column_refs
from quant_assets.lib.ticks.adapters.containers import COMPRESSED, explain_read_error, inner_name
from quant_assets.lib.ticks.adapters.csv_text import (
    CSV_BLOCK,
    HEADER_BLOCK,
    head,
    skip_invalid_row,
)
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapping import all_mappings


def header_names(path: Path) -> list[str] | None:
    """Column names of a CSV (first line) or Parquet file; None if unreadable."""
    try:
        return read_header(path)
    except MalformedFileError:
        return None


def read_header(path: Path) -> list[str]:
    """Column names of a CSV (first line) or Parquet file; an honest reason when unreadable."""
    name = inner_name(path).lower()
    try:
        if name.endswith(".parquet") or name.endswith(".pq"):
            return list(pq.read_schema(path).names)
        parse = pacsv.ParseOptions(invalid_row_handler=skip_invalid_row)
        if path.suffix.lower() not in COMPRESSED:  # (the full block finds truncated streams)
            try:  # a small first block: Arrow infers types over all of it
                read = pacsv.ReadOptions(block_size=HEADER_BLOCK)
                with pacsv.open_csv(
                    head(path, HEADER_BLOCK), read_options=read, parse_options=parse
                ) as reader:
                    return list(reader.schema.names)
            except (pa.ArrowInvalid, OSError):
                pass
        read = pacsv.ReadOptions(block_size=CSV_BLOCK)
        with pacsv.open_csv(
            head(path, CSV_BLOCK), read_options=read, parse_options=parse
        ) as reader:
            return list(reader.schema.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedFileError(path, explain_read_error(path, exc, CSV_BLOCK)) from exc


def match_mapping(path: Path, names: list[str] | None = None) -> str | None:
    """Best mapping whose named columns all appear in the file's header (most specific wins);
    headerless, position-based and JSON-lines mappings never auto-match."""
    names = header_names(path) if names is None else names
    if names is None:
        return None
    fmt = "parquet" if inner_name(path).lower().endswith((".parquet", ".pq")) else "csv"
    best: tuple[int, str] | None = None
    for mname, m in all_mappings().items():
        if m.format != fmt or (fmt == "csv" and not m.csv.header) or m.csv.delimiter != ",":
            continue
        refs = list(column_refs(m).values())
        if any(isinstance(r, int) for r in refs) or not set(refs) <= set(names):
            continue
        if m.symbol_from_path and not re.search(m.symbol_from_path, path.name):
            continue
        score = len(set(refs))
        if best is None or score > best[0]:
            best = (score, mname)
    return best[1] if best else None
