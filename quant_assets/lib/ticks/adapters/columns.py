"""Which file column each canonical field reads: a mapping's column references resolved
against the CSV header or Parquet schema, plus values taken from the file name."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from quant_assets.lib.ticks.adapters.containers import inner_name
from quant_assets.lib.ticks.adapters.csv_text import csv_names
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapping import ColumnRef, VendorMapping


def resolve_column(path: Path, names: list[str], ref: ColumnRef) -> str:
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise MalformedFileError(
                path, f"mapped column position {ref} missing; file has {len(names)} columns"
            )
        return names[ref]
    if ref not in names:
        raise MalformedFileError(
            path, f"mapped column is missing; file has columns {names}", column=ref
        )
    return ref


def from_name(path: Path, pattern: str, group: str, what: str) -> str:
    found = re.search(pattern, inner_name(path))
    if found is None:
        raise MalformedFileError(path, f"file name does not match {what} {pattern!r}")
    return found.group(group)


def column_refs(m: VendorMapping) -> dict[str, ColumnRef]:
    refs: dict[str, ColumnRef] = dict(m.columns.refs())
    if m.record_type_column is not None:
        refs["__record_type"] = m.record_type_column
    for i, f in enumerate(m.keep):
        refs[f"__keep{i}"] = f.column
    if m.flags is not None:
        refs["__flag"] = m.flags.column
    if m.date is not None and m.date.column is not None:
        refs["__date"] = m.date.column
    return refs


def resolve_columns(
    p: Path, m: VendorMapping, refs: dict[str, ColumnRef]
) -> tuple[dict[str, str], list[str]]:
    """Field → file column name from the CSV header or Parquet schema, and the distinct columns
    to read (shared by the whole-file and the streaming reader)."""
    if m.format == "csv":
        names = csv_names(p, m)
    else:
        try:
            names = list(pq.read_schema(p).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MalformedFileError(p, f"not a readable Parquet file: {exc}") from exc
    resolved = {field: resolve_column(p, names, ref) for field, ref in refs.items()}
    return resolved, list(dict.fromkeys(resolved.values()))
