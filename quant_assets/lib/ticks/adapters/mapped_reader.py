"""Reading a vendor file (CSV, Parquet, JSON lines; plain, gz, zst or zip) with a mapping.

Reading is vectorised (pyarrow.csv / pyarrow.parquet + pyarrow.compute); CSV columns are read as
text and converted column-wise so a bad value is reported with its file line and column. Rows a
row filter drops are counted (``VendorRead.skipped``), never silently lost or treated as errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quant_assets.lib.ticks.adapters._convert import (
    ConversionError,
    TimezoneConflict,
    finalize,
    map_values,
    to_float,
    to_int64,
    to_text,
    to_timestamp,
)
from quant_assets.lib.ticks.adapters._jsonl import read_jsonl
from quant_assets.lib.ticks.adapters.book import consolidate_quotes
from quant_assets.lib.ticks.adapters.containers import (
    COMPRESSED,
    explain_read_error,
    inner_name,
    open_container,
)
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, relocated
from quant_assets.lib.ticks.adapters.mapping import (
    ColumnRef,
    TimeSpec,
    VendorMapping,
)
from quant_assets.lib.ticks.schema import RecordType

CSV_BLOCK = 1 << 24  # 16 MiB: the longest line Arrow's CSV reader accepts
_TRADE_ONLY = ("price", "size", "side", "trade_id")
_QUOTE_ONLY = ("bid_price", "bid_size", "ask_price", "ask_size")


@dataclass(frozen=True)
class VendorRead:
    """Canonical ticks of one file and what was left out on purpose."""

    table: pa.Table
    rows_read: int  # data rows in the file
    skipped: int  # rows a row filter dropped (message types that are not ticks)


class Located:
    """Turns a 0-based row index of the read table into the position users see."""

    def __init__(
        self, path: Path, mapping: VendorMapping, lines: npt.NDArray[np.int64] | None = None
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.lines = lines  # physical line of each row (JSON lines)
        self.kept: npt.NDArray[np.int64] | None = None  # original row of each kept row
        self.offset = 0  # rows of the file before this table (a record batch of a stream)

    def where(self, row: int | None) -> tuple[int | None, str]:
        if row is None:
            return None, "line"
        if self.kept is not None:
            row = int(self.kept[row])
        row += self.offset
        if self.lines is not None:
            return int(self.lines[row]), "line"
        if self.mapping.format == "parquet":
            return row + 1, "row"
        return self._csv_line(row), "line"

    def _csv_line(self, row: int) -> int | None:
        # Error path only: walk the file once so blank lines (skipped by Arrow) are counted.
        first_data = self.mapping.csv.skip_rows + (1 if self.mapping.csv.header else 0)
        seen = -1
        with pa.input_stream(str(self.path), compression="detect") as stream:
            text = stream.read().decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            if lineno <= first_data or not line.strip():
                continue
            seen += 1
            if seen == row:
                return lineno
        return None

    def error(self, exc: ConversionError, column: str | None) -> MalformedFileError:
        line, kind = self.where(exc.index)
        return MalformedFileError(self.path, exc.problem, line=line, column=column, kind=kind)


def skip_invalid_row(row: Any) -> str:
    return "skip"  # only the header matters here; bad rows are reported by the full read


HEADER_BLOCK = 1 << 16  # enough for a header; Arrow infers types over the whole first block


def csv_names(path: Path, m: VendorMapping) -> list[str]:
    """Column names, from a small first block (a 16 MiB one costs a second of type inference);
    a header or first row longer than that is read again with the full block."""
    compressed = path.suffix.lower() in COMPRESSED  # the full block finds a truncated stream
    for block in (CSV_BLOCK,) if compressed else (HEADER_BLOCK, CSV_BLOCK):
        read = pacsv.ReadOptions(
            skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header, block_size=block
        )
        parse = pacsv.ParseOptions(
            delimiter=m.csv.delimiter,
            quote_char=m.csv.quote_char,
            invalid_row_handler=skip_invalid_row,
        )
        try:
            with pacsv.open_csv(str(path), read_options=read, parse_options=parse) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            if block == CSV_BLOCK:
                raise MalformedFileError(
                    path, f"not a readable CSV file: {explain_read_error(path, exc, CSV_BLOCK)}"
                ) from exc
    raise AssertionError("unreachable")


def _find_line(path: Path, text: str) -> int | None:
    with pa.input_stream(str(path), compression="detect") as stream:
        lines = stream.read().decode("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if line == text:
            return lineno
    return None


def csv_options(
    m: VendorMapping,
    wanted: list[str],
    on_invalid: Callable[[Any], str],
    block_size: int = CSV_BLOCK,
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """Every wanted column as text (converted column-wise later, with file positions)."""
    read = pacsv.ReadOptions(
        skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header, block_size=block_size
    )
    parse = pacsv.ParseOptions(
        delimiter=m.csv.delimiter, quote_char=m.csv.quote_char, invalid_row_handler=on_invalid
    )
    convert = pacsv.ConvertOptions(
        include_columns=wanted,
        column_types=dict.fromkeys(wanted, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    return read, parse, convert


class InvalidRows:
    """Collects the rows Arrow's CSV parser rejects, to name the first in the error."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, str]] = []

    def __call__(self, row: Any) -> str:
        self.rows.append((row.expected_columns, row.actual_columns, row.text))
        return "error"

    def error(self, path: Path, exc: BaseException) -> MalformedFileError:
        if self.rows:
            expected, actual, text = self.rows[0]
            return MalformedFileError(
                path,
                f"expected {expected} fields, found {actual}: {text[:200]!r}",
                line=_find_line(path, text),
            )
        return MalformedFileError(
            path, f"could not read CSV: {explain_read_error(path, exc, CSV_BLOCK)}"
        )


def _read_csv(path: Path, m: VendorMapping, wanted: list[str]) -> pa.Table:
    invalid = InvalidRows()
    read, parse, convert = csv_options(m, wanted, invalid)
    try:
        return pacsv.read_csv(
            str(path), read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise invalid.error(path, exc) from exc


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


def _from_name(path: Path, pattern: str, group: str, what: str) -> str:
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
        raw = _read_csv(p, m, wanted)
    else:
        try:
            raw = pq.read_table(p, columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MalformedFileError(p, f"could not read Parquet: {exc}") from exc
    return raw, resolved, Located(p, m)


def _keep_mask(raw: pa.Table, resolved: dict[str, str], m: VendorMapping) -> npt.NDArray[np.bool_]:
    keep = np.ones(raw.num_rows, dtype=bool)
    for i, f in enumerate(m.keep):
        text = pc.utf8_trim_whitespace(to_text(raw.column(resolved[f"__keep{i}"])))
        hit = pc.fill_null(pc.is_in(text, value_set=pa.array(f.values, pa.string())), False)
        keep &= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
    return keep


def _without_sentinels(col: pa.ChunkedArray | pa.Array, sentinels: list[str]) -> pa.Array:
    """Null where the value's text is one of ``sentinels`` (``0`` = absent)."""
    flat = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    text = pc.utf8_trim_whitespace(to_text(flat))
    hit = pc.fill_null(pc.is_in(text, value_set=pa.array(sentinels, pa.string())), False)
    return pc.if_else(hit, pa.scalar(None, flat.type), flat)


def _numeric_sentinels(values: pa.Array, sentinels: list[str]) -> pa.Array:
    numbers = []
    for s in sentinels:
        try:
            numbers.append(float(s))
        except ValueError:
            continue
    if not numbers:
        return values
    hit = pc.fill_null(pc.is_in(values, value_set=pa.array(numbers, pa.float64())), False)
    return pc.if_else(hit, pa.scalar(None, pa.float64()), values)


def _midnights(
    p: Path, m: VendorMapping, raw: pa.Table, resolved: dict[str, str], loc: Located
) -> pa.Array:
    """Naive local midnight of every row's date (from the file name or a column)."""
    assert m.date is not None
    fmt = m.date.format
    if m.date.from_path is not None:
        text = _from_name(p, m.date.from_path, "date", "date.from_path")
        try:
            day = datetime.strptime(text, fmt).replace(tzinfo=UTC)  # a date, not an instant
        except ValueError as exc:
            raise MalformedFileError(
                p, f"date {text!r} in the file name does not match {fmt!r}"
            ) from exc
        return pa.array(
            np.full(raw.num_rows, np.datetime64(day.replace(tzinfo=None), "ns")), pa.timestamp("ns")
        )
    column = raw.column(resolved["__date"])
    try:
        return (
            to_timestamp(column, fmt=fmt, timezone="UTC").cast(pa.int64()).cast(pa.timestamp("ns"))
        )
    except ConversionError as exc:
        raise loc.error(exc, resolved["__date"]) from exc


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


def convert_raw(
    p: Path,
    m: VendorMapping,
    raw: pa.Table,
    resolved: dict[str, str],
    loc: Located,
    symbol: str | None,
) -> VendorRead:
    """Vendor text columns (the whole file or one record batch of it) to canonical ticks in
    vendor order; no quote-book consolidation (it carries state across the file)."""
    rows_read = raw.num_rows
    skipped = 0
    if m.keep:
        keep = _keep_mask(raw, resolved, m)
        skipped = int((~keep).sum())
        if skipped:
            loc.kept = np.flatnonzero(keep)
            raw = raw.take(loc.kept)
    for field, sentinels in m.nulls.items():
        if field in resolved:
            name = resolved[field]
            raw = raw.set_column(
                raw.schema.get_field_index(name),
                name,
                _without_sentinels(raw.column(name), sentinels),
            )
    n = raw.num_rows
    out: dict[str, pa.Array] = {}

    def col(field: str) -> pa.ChunkedArray:
        return raw.column(resolved[field])

    def conv(field: str, fn: Callable[..., pa.Array], *args: Any, **kwargs: Any) -> pa.Array:
        try:
            return fn(col(field), *args, **kwargs)
        except ConversionError as exc:
            raise loc.error(exc, resolved[field]) from exc
        except TimezoneConflict as exc:
            raise MalformedFileError(p, str(exc), column=resolved[field]) from exc

    midnight = None
    if any(t is not None and t.relative_to == "date" for t in (m.time, m.recv_time)):
        midnight = _midnights(p, m, raw, resolved, loc)

    def times(field: str, t: TimeSpec) -> pa.Array:
        values = conv(
            field,
            to_timestamp,
            unit=t.unit,
            fmt=t.format,
            origin_ns=t.origin_ns,
            timezone=t.timezone,
            midnight=midnight if t.relative_to == "date" else None,
        )
        if field == "ts_event" and values.null_count:
            first = values.is_null().to_numpy(zero_copy_only=False).argmax()
            line, kind = loc.where(int(first))
            raise MalformedFileError(
                p, "missing event time", line=line, column=resolved[field], kind=kind
            )
        return values

    out["ts_event"] = times("ts_event", m.time)
    if "ts_recv" in resolved:
        out["ts_recv"] = times("ts_recv", m.recv_time or m.time)
    if m.time.clock == "receive":  # the only time is our receive time: say so, keep it in ts_recv
        out["clock"] = pa.repeat(pa.scalar("receive", pa.string()), n)
        out.setdefault("ts_recv", out["ts_event"])
    for field in ("price", "bid_price", "ask_price"):
        if field in resolved:
            out[field] = _numeric_sentinels(
                conv(field, to_float, m.price_scale), m.nulls.get(field, [])
            )
    for field in ("size", "bid_size", "ask_size"):
        if field in resolved:
            out[field] = _numeric_sentinels(
                conv(field, to_float, m.size_scale), m.nulls.get(field, [])
            )
    if "sequence" in resolved:
        out["sequence"] = conv("sequence", to_int64)
    if "side" in resolved:
        out["side"] = conv("side", map_values, m.side_values, "side")
    if "conditions" in resolved:
        out["conditions"] = _conditions(to_text(col("conditions")), m.conditions_format)
    if "trade_id" in resolved:
        out["trade_id"] = to_text(col("trade_id"))
    if "exchange" in resolved:
        out["exchange"] = to_text(col("exchange"))
    elif m.exchange is not None:
        out["exchange"] = pa.repeat(pa.scalar(m.exchange, pa.string()), n)
    if m.flags is not None:
        out["flag"] = conv("__flag", _flag_reasons, m.flags.reasons)
    out["symbol"] = _symbols(p, m, raw, resolved, loc, symbol)
    out["record_type"] = _record_types(m, conv, loc, p, resolved, n)
    out["source"] = pa.repeat(pa.scalar(m.source_label, pa.string()), n)
    if m.record_type is None:
        out = _blank_other_kind(out)
    return VendorRead(table=finalize(pa.table(out)), rows_read=rows_read, skipped=skipped)


def _flag_reasons(arr: pa.ChunkedArray, reasons: dict[str, str]) -> pa.Array:
    text = pc.utf8_trim_whitespace(to_text(arr))
    idx = pc.index_in(text, value_set=pa.array(list(reasons), pa.string()))
    return pc.take(pa.array(list(reasons.values()), pa.string()), idx)


def _conditions(text: pa.Array, fmt: str) -> pa.Array:
    """Canonical comma-separated codes; ``chars`` fields (TAQ's 4-character sale condition)
    are split per character, judged once per distinct value."""
    if fmt == "list":
        return text
    enc = pc.dictionary_encode(text)
    split = [",".join(c for c in s if not c.isspace()) for s in enc.dictionary.to_pylist()]
    return pc.take(pa.array(split, pa.string()), enc.indices)


def _symbols(
    p: Path,
    m: VendorMapping,
    raw: pa.Table,
    resolved: dict[str, str],
    loc: Located,
    symbol: str | None,
) -> pa.Array:
    n = raw.num_rows
    if symbol is not None:
        return pa.repeat(pa.scalar(symbol, pa.string()), n)
    if "symbol" in resolved:
        sym = to_text(raw.column(resolved["symbol"]))
    elif m.symbol is not None:
        sym = pa.repeat(pa.scalar(m.symbol, pa.string()), n)
    else:
        assert m.symbol_from_path is not None
        sym = pa.repeat(
            pa.scalar(_from_name(p, m.symbol_from_path, "symbol", "symbol_from_path"), pa.string()),
            n,
        )
    for old, new in m.symbol_replace.items():
        sym = pc.replace_substring(sym, old, new)
    if m.symbol_case == "upper":
        sym = pc.utf8_upper(sym)
    elif m.symbol_case == "lower":
        sym = pc.utf8_lower(sym)
    if sym.null_count:
        line, kind = loc.where(sym.to_pylist().index(None))
        raise MalformedFileError(
            p, "missing symbol", line=line, column=resolved.get("symbol"), kind=kind
        )
    return sym


def _record_types(
    m: VendorMapping,
    conv: Callable[..., pa.Array],
    loc: Located,
    p: Path,
    resolved: dict[str, str],
    n: int,
) -> pa.Array:
    if m.record_type is not None:
        return pa.repeat(pa.scalar(m.record_type.value, pa.string()), n)
    rt_map: dict[str, str | None] = {k: v.value for k, v in m.record_type_values.items()}
    rtype = conv("__record_type", map_values, rt_map, "record type")
    if rtype.null_count:
        line, kind = loc.where(rtype.to_pylist().index(None))
        raise MalformedFileError(
            p, "missing record type", line=line, column=resolved["__record_type"], kind=kind
        )
    return rtype


def _blank_other_kind(out: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """In files mixing trades and quotes, a trade's bid/ask fields and a quote's last-trade
    fields (a ticker message's last price) are not part of that record."""
    is_trade = pc.equal(out["record_type"], RecordType.TRADE.value)
    for names, blank in ((_QUOTE_ONLY, is_trade), (_TRADE_ONLY, pc.invert(is_trade))):
        for name in names:
            if name in out:
                out[name] = pc.if_else(blank, pa.scalar(None, out[name].type), out[name])
    return out
