"""Generic CSV/Parquet adapter driven by a declarative :class:`VendorMapping`.

Most vendors ship "a table with a time column and some prices"; describing that in a small TOML
file (see ``mappings/``) instead of writing an adapter per vendor keeps onboarding a config change.
Reading is vectorised (pyarrow.csv / pyarrow.parquet + pyarrow.compute); CSV columns are read as
text and converted column-wise so a bad value can be reported with its file line and column.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quant_assets.lib.ticks.adapters._convert import (
    ConversionError,
    TimeUnit,
    finalize,
    map_values,
    parse_origin,
    to_float,
    to_int64,
    to_text,
    to_timestamp,
)
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnknownSourceError
from quant_assets.lib.ticks.schema import RecordType

MAPPINGS_DIR = Path(__file__).with_name("mappings")
_MAPPING_SUFFIXES = (".toml", ".yaml", ".yml", ".json")

ColumnRef = str | int
"""A vendor column: its header name, or its 0-based position (headerless CSV)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Vendor column for each canonical field; ``None`` = the vendor does not have it."""

    ts_event: ColumnRef
    ts_recv: ColumnRef | None = None
    symbol: ColumnRef | None = None
    price: ColumnRef | None = None
    size: ColumnRef | None = None
    side: ColumnRef | None = None
    bid_price: ColumnRef | None = None
    bid_size: ColumnRef | None = None
    ask_price: ColumnRef | None = None
    ask_size: ColumnRef | None = None
    exchange: ColumnRef | None = None
    conditions: ColumnRef | None = None
    sequence: ColumnRef | None = None
    trade_id: ColumnRef | None = None

    def refs(self) -> dict[str, ColumnRef]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TimeSpec(_Strict):
    """How vendor times are written. ``unit`` for epoch numbers counted from ``origin``;
    ``format`` for text (``"iso"`` or a strptime pattern, ``%f`` = optional fraction); neither =
    Arrow timestamps or ISO text. ``timezone`` applies to naive (offset-less) values only."""

    unit: TimeUnit | None = None
    format: str | None = None
    origin: str | int = 0
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _one_kind(self) -> TimeSpec:
        if self.unit is not None and self.format is not None:
            raise ValueError("time: give either unit (epoch numbers) or format (text), not both")
        parse_origin(self.origin)
        return self

    @property
    def origin_ns(self) -> int:
        return parse_origin(self.origin)


class CsvOptions(_Strict):
    delimiter: str = ","
    header: bool = True
    skip_rows: int = Field(default=0, ge=0, description="lines to skip before the header/data")
    quote_char: str = '"'

    @field_validator("delimiter", "quote_char")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("must be a single character")
        return v


SideCode = Literal["B", "S", ""]


class VendorMapping(_Strict):
    """Declarative description of one vendor file layout (see ``mappings/*.toml``)."""

    name: str
    format: Literal["csv", "parquet"]
    record_type: RecordType | None = None
    record_type_column: ColumnRef | None = None
    record_type_values: dict[str, RecordType] = Field(default_factory=dict)
    columns: Columns
    symbol: str | None = Field(
        default=None, description="fixed symbol for files without a symbol column"
    )
    symbol_from_path: str | None = Field(
        default=None, description="regex with a (?P<symbol>...) group, searched in the file name"
    )
    symbol_case: Literal["keep", "upper", "lower"] = "keep"
    symbol_replace: dict[str, str] = Field(
        default_factory=dict, description="literal substring replacements, e.g. '/' -> ''"
    )
    exchange: str | None = Field(default=None, description="fixed exchange when there is no column")
    side_values: dict[str, SideCode | None] = Field(
        default_factory=dict, description="vendor side value -> 'B'/'S'/'' (''/null = unknown)"
    )
    price_scale: float = Field(
        default=1.0, gt=0, description="multiplier, e.g. 1e-9 for fixed-point"
    )
    size_scale: float = Field(default=1.0, gt=0)
    time: TimeSpec = Field(default_factory=TimeSpec)
    recv_time: TimeSpec | None = Field(default=None, description="ts_recv encoding if it differs")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    source: str | None = Field(
        default=None, description="value of the 'source' column; default = name"
    )

    @model_validator(mode="after")
    def _consistent(self) -> VendorMapping:
        if (self.record_type is None) == (self.record_type_column is None):
            raise ValueError("give exactly one of record_type or record_type_column")
        if self.record_type_column is not None and not self.record_type_values:
            raise ValueError("record_type_column needs record_type_values")
        if self.columns.symbol is None and self.symbol is None and self.symbol_from_path is None:
            raise ValueError("no symbol: set columns.symbol, symbol or symbol_from_path")
        pattern = self.symbol_from_path
        if pattern is not None and "symbol" not in re.compile(pattern).groupindex:
            raise ValueError("symbol_from_path needs a (?P<symbol>...) group")
        if self.columns.side is not None and not self.side_values:
            raise ValueError("columns.side needs side_values")
        kinds = {self.record_type} if self.record_type else set(self.record_type_values.values())
        if RecordType.TRADE in kinds and self.columns.price is None:
            raise ValueError("trade records need columns.price")
        no_quote = self.columns.bid_price is None and self.columns.ask_price is None
        if RecordType.QUOTE in kinds and no_quote:
            raise ValueError("quote records need columns.bid_price or columns.ask_price")
        return self

    @property
    def source_label(self) -> str:
        return self.source or self.name

    @classmethod
    def from_file(cls, path: str | Path) -> VendorMapping:
        """Load from TOML, YAML or JSON (by extension); the file stem is the default name."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        data: Any
        if p.suffix == ".toml":
            data = tomllib.loads(text)
        elif p.suffix in (".yaml", ".yml"):
            import yaml  # lazy: only YAML mappings need it

            data = yaml.safe_load(text)
        elif p.suffix == ".json":
            data = json.loads(text)
        else:
            raise ValueError(f"{p}: mapping files must be .toml, .yaml/.yml or .json")
        if not isinstance(data, dict):
            raise ValueError(f"{p}: mapping must be a table/object")
        data.setdefault("name", p.stem)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"{p}: invalid vendor mapping:\n{exc}") from exc


def available_mappings() -> list[str]:
    """Names of the mappings shipped in ``mappings/``."""
    return sorted({p.stem for p in MAPPINGS_DIR.iterdir() if p.suffix in _MAPPING_SUFFIXES})


def load_mapping(name: str) -> VendorMapping:
    """Shipped mapping by name (``binance_trades``), or a path to a mapping file."""
    candidate = Path(name)
    if candidate.suffix in _MAPPING_SUFFIXES and candidate.is_file():
        return VendorMapping.from_file(candidate)
    for suffix in _MAPPING_SUFFIXES:
        p = MAPPINGS_DIR / f"{name}{suffix}"
        if p.is_file():
            return VendorMapping.from_file(p)
    raise UnknownSourceError(
        f"unknown vendor mapping {name!r}; shipped mappings: {available_mappings()}"
    )


# --------------------------------------------------------------------------------------- reading


class _Located:
    """Turns a 0-based data-row index into the position users see (file line / parquet row)."""

    def __init__(self, path: Path, mapping: VendorMapping) -> None:
        self.path = path
        self.mapping = mapping

    def where(self, row: int | None) -> tuple[int | None, str]:
        if row is None:
            return None, "line"
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


def _skip_row(row: Any) -> str:
    return "skip"  # only the header matters here; bad rows are reported by the full read


def _csv_names(path: Path, m: VendorMapping) -> list[str]:
    read = pacsv.ReadOptions(
        skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header, block_size=1 << 16
    )
    parse = pacsv.ParseOptions(
        delimiter=m.csv.delimiter, quote_char=m.csv.quote_char, invalid_row_handler=_skip_row
    )
    try:
        with pacsv.open_csv(str(path), read_options=read, parse_options=parse) as reader:
            return list(reader.schema.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedFileError(path, f"not a readable CSV file: {exc}") from exc


def _find_line(path: Path, text: str) -> int | None:
    with pa.input_stream(str(path), compression="detect") as stream:
        lines = stream.read().decode("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if line == text:
            return lineno
    return None


def _read_csv(path: Path, m: VendorMapping, wanted: list[str]) -> pa.Table:
    invalid: list[tuple[int, int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.expected_columns, row.actual_columns, row.text))
        return "error"

    read = pacsv.ReadOptions(skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header)
    parse = pacsv.ParseOptions(
        delimiter=m.csv.delimiter, quote_char=m.csv.quote_char, invalid_row_handler=on_invalid
    )
    convert = pacsv.ConvertOptions(
        include_columns=wanted,
        column_types=dict.fromkeys(wanted, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        return pacsv.read_csv(
            str(path), read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, OSError) as exc:
        if invalid:
            expected, actual, text = invalid[0]
            raise MalformedFileError(
                path,
                f"expected {expected} fields, found {actual}: {text!r}",
                line=_find_line(path, text),
            ) from exc
        raise MalformedFileError(path, f"could not read CSV: {exc}") from exc


def _resolve(path: Path, names: list[str], ref: ColumnRef) -> str:
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


def _symbols_from_path(path: Path, m: VendorMapping) -> str:
    assert m.symbol_from_path is not None
    found = re.search(m.symbol_from_path, path.name)
    if found is None:
        raise MalformedFileError(
            path, f"file name does not match symbol_from_path {m.symbol_from_path!r}"
        )
    return found.group("symbol")


def read_mapped(path: str | Path, mapping: VendorMapping, *, symbol: str | None = None) -> pa.Table:
    """Read one vendor file described by ``mapping`` into canonical ticks (conformed, vendor order).

    ``symbol`` overrides whatever the mapping would derive (useful for files named by id)."""
    p = Path(path)
    m = mapping
    refs = m.columns.refs()
    if m.record_type_column is not None:
        refs["__record_type"] = m.record_type_column

    if m.format == "csv":
        names = _csv_names(p, m)
    else:
        try:
            names = list(pq.read_schema(p).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MalformedFileError(p, f"not a readable Parquet file: {exc}") from exc
    resolved = {field: _resolve(p, names, ref) for field, ref in refs.items()}
    wanted = list(dict.fromkeys(resolved.values()))
    if m.format == "csv":
        raw = _read_csv(p, m, wanted)
    else:
        try:
            raw = pq.read_table(p, columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            raise MalformedFileError(p, f"could not read Parquet: {exc}") from exc

    loc = _Located(p, m)
    n = raw.num_rows
    out: dict[str, pa.Array] = {}

    def col(field: str) -> pa.ChunkedArray:
        return raw.column(resolved[field])

    def conv(field: str, fn: Any, *args: Any, **kwargs: Any) -> pa.Array:
        try:
            return fn(col(field), *args, **kwargs)  # type: ignore[no-any-return]
        except ConversionError as exc:
            raise loc.error(exc, resolved[field]) from exc

    t = m.time
    out["ts_event"] = conv(
        "ts_event",
        to_timestamp,
        unit=t.unit,
        fmt=t.format,
        origin_ns=t.origin_ns,
        timezone=t.timezone,
    )
    if "ts_recv" in resolved:
        rt = m.recv_time or t
        out["ts_recv"] = conv(
            "ts_recv",
            to_timestamp,
            unit=rt.unit,
            fmt=rt.format,
            origin_ns=rt.origin_ns,
            timezone=rt.timezone,
        )
    for field in ("price", "bid_price", "ask_price"):
        if field in resolved:
            out[field] = conv(field, to_float, m.price_scale)
    for field in ("size", "bid_size", "ask_size"):
        if field in resolved:
            out[field] = conv(field, to_float, m.size_scale)
    if "sequence" in resolved:
        out["sequence"] = conv("sequence", to_int64)
    if "side" in resolved:
        out["side"] = conv("side", map_values, m.side_values, "side")
    if "conditions" in resolved:
        out["conditions"] = to_text(col("conditions"))
    if "trade_id" in resolved:
        out["trade_id"] = to_text(col("trade_id"))

    if "exchange" in resolved:
        out["exchange"] = to_text(col("exchange"))
    elif m.exchange is not None:
        out["exchange"] = pa.array([m.exchange] * n, pa.string())

    if symbol is not None:
        sym: pa.Array = pa.array([symbol] * n, pa.string())
    else:
        if "symbol" in resolved:
            sym = to_text(col("symbol"))
        elif m.symbol is not None:
            sym = pa.array([m.symbol] * n, pa.string())
        else:
            sym = pa.array([_symbols_from_path(p, m)] * n, pa.string())
        for old, new in m.symbol_replace.items():
            sym = pc.replace_substring(sym, old, new)
        if m.symbol_case == "upper":
            sym = pc.utf8_upper(sym)
        elif m.symbol_case == "lower":
            sym = pc.utf8_lower(sym)
    if sym.null_count:
        first = sym.to_pylist().index(None)
        line, kind = loc.where(first)
        raise MalformedFileError(
            p, "missing symbol", line=line, column=resolved.get("symbol"), kind=kind
        )
    out["symbol"] = sym

    if m.record_type is not None:
        out["record_type"] = pa.array([m.record_type.value] * n, pa.string())
    else:
        rt_map: dict[str, str | None] = {k: v.value for k, v in m.record_type_values.items()}
        rtype = conv("__record_type", map_values, rt_map, "record type")
        if rtype.null_count:
            first = rtype.to_pylist().index(None)
            line, kind = loc.where(first)
            raise MalformedFileError(
                p, "missing record type", line=line, column=resolved["__record_type"], kind=kind
            )
        out["record_type"] = rtype
    out["source"] = pa.array([m.source_label] * n, pa.string())
    return finalize(pa.table(out))


# ------------------------------------------------------------------------------------ detection


def header_names(path: Path) -> list[str] | None:
    """Column names of a CSV (first line) or Parquet file; None if unreadable."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet") or name.endswith(".pq"):
            return list(pq.read_schema(path).names)
        read = pacsv.ReadOptions(block_size=1 << 16)
        parse = pacsv.ParseOptions(invalid_row_handler=_skip_row)
        with pacsv.open_csv(str(path), read_options=read, parse_options=parse) as reader:
            return list(reader.schema.names)
    except (pa.ArrowInvalid, OSError):
        return None


def match_mapping(path: Path) -> str | None:
    """Best shipped mapping whose named columns all appear in the file's header (most specific
    wins); headerless or position-based mappings never auto-match."""
    names = header_names(path)
    if names is None:
        return None
    fmt = "parquet" if path.name.lower().endswith((".parquet", ".pq")) else "csv"
    best: tuple[int, str] | None = None
    for mname in available_mappings():
        m = load_mapping(mname)
        if m.format != fmt or (fmt == "csv" and not m.csv.header):
            continue
        refs = list(m.columns.refs().values())
        if m.record_type_column is not None:
            refs.append(m.record_type_column)
        if any(isinstance(r, int) for r in refs) or not set(refs) <= set(names):
            continue
        if m.symbol_from_path and not re.search(m.symbol_from_path, path.name):
            continue
        score = len(set(refs))
        if best is None or score > best[0]:
            best = (score, mname)
    return best[1] if best else None
