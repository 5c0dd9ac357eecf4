"""Declarative vendor mappings: what a vendor file looks like, written down once per layout.

Most vendors ship "a table with a time column and some prices"; describing that in a small TOML
file instead of writing an adapter per vendor keeps onboarding a config change. Mappings load
from the directories in ``QUANT_MAPPINGS_DIR`` (``os.pathsep``-separated, owned by the user) and
then from the packaged ``mappings/``; a user mapping of the same name wins. Reading a file with a
mapping lives in :mod:`mapped_reader`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quant_assets.lib.settings import process_environment
from quant_assets.lib.ticks.adapters._convert import TimeUnit, parse_origin
from quant_assets.lib.ticks.adapters._timeofday import TAQ_CLOCK
from quant_assets.lib.ticks.adapters.errors import UnknownSourceError
from quant_assets.lib.ticks.schema import RecordType

MAPPINGS_DIR = Path(__file__).with_name("mappings")
MAPPINGS_ENV = "QUANT_MAPPINGS_DIR"
_MAPPING_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
_REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

ColumnRef = str | int
"""A vendor column: its header name (a dotted path in JSON lines), or its 0-based position."""


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


Clock = Literal["exchange", "receive"]


class TimeSpec(_Strict):
    """How vendor times are written.

    ``unit``: epoch numbers counted from ``origin`` (UTC instants: a ``timezone`` other than UTC
    is rejected, never ignored). ``format``: text (``"iso"`` or a strptime pattern, ``%f`` =
    optional fraction); ``timezone`` applies to naive values, and a column whose values carry
    offsets is rejected when a non-UTC ``timezone`` is given; ``"HHMMSSXXXXXXXXX"`` is NYSE
    TAQ's nanosecond time of day. ``relative_to = "date"``: values
    are wall-clock times after local midnight (``unit`` numbers, or ``format`` time-of-day text)
    of the mapping's ``date`` in ``timezone``, DST-correct. ``clock`` records whose clock the
    column is (exchange matching engine or the vendor's/our receive time)."""

    unit: TimeUnit | None = None
    format: str | None = None
    origin: str | int = 0
    timezone: str = "UTC"
    relative_to: Literal["epoch", "date"] = "epoch"
    clock: Clock = "exchange"

    @model_validator(mode="after")
    def _one_kind(self) -> TimeSpec:
        if self.unit is not None and self.format is not None:
            raise ValueError("time: give either unit (epoch numbers) or format (text), not both")
        parse_origin(self.origin)
        if self.format == TAQ_CLOCK and self.relative_to != "date":
            raise ValueError(f"time: format {TAQ_CLOCK!r} is a time of day: relative_to = 'date'")
        if self.relative_to == "date":
            if self.unit is None and self.format is None:
                raise ValueError("time: relative_to = 'date' needs unit or format")
            if self.origin not in (0, "0"):
                raise ValueError(
                    "time: relative_to = 'date' counts from local midnight, not origin"
                )
        elif self.unit is not None and self.timezone != "UTC":
            raise ValueError(
                f"time: timezone {self.timezone!r} cannot apply to epoch numbers (unit "
                f"{self.unit!r}), which count from a UTC origin; use relative_to = 'date' for "
                "times after local midnight, or an origin with a UTC offset"
            )
        return self

    @property
    def origin_ns(self) -> int:
        return parse_origin(self.origin)


class DateSpec(_Strict):
    """Where the local date of ``relative_to = "date"`` times comes from: a regex with a
    ``(?P<date>...)`` group searched in the file name, or a column; parsed with ``format``."""

    from_path: str | None = None
    column: ColumnRef | None = None
    format: str = "%Y%m%d"

    @model_validator(mode="after")
    def _one_place(self) -> DateSpec:
        if (self.from_path is None) == (self.column is None):
            raise ValueError("date: give exactly one of from_path or column")
        if self.from_path is not None and "date" not in re.compile(self.from_path).groupindex:
            raise ValueError("date.from_path needs a (?P<date>...) group")
        return self


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


class JsonlOptions(_Strict):
    """JSON lines: one object per line, optionally after whitespace-separated ``prefix`` fields
    (e.g. a local receive timestamp written by a websocket recorder), addressable by name."""

    prefix: list[str] = Field(default_factory=list)


class RowFilter(_Strict):
    """Keep rows whose ``column`` is one of ``values``; the others are counted as skipped
    (message files mix event types: only some of them are trades or quotes)."""

    column: ColumnRef
    values: list[str]


class FlagSpec(_Strict):
    """A vendor flag column (correction, suspicious, cancel): each listed value sends the row to
    quarantine under the named reason; unlisted values are regular."""

    column: ColumnRef
    reasons: dict[str, str]

    @field_validator("reasons")
    @classmethod
    def _reason_names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [r for r in v.values() if not _REASON_RE.match(r)]
        if bad:
            raise ValueError(f"flag reasons must be snake_case names: {bad}")
        return v


SideCode = Literal["B", "S", ""]
QuoteBook = Literal["none", "venue", "consolidated"]
DuplicatePolicy = Literal["evidence", "drop", "keep"]
_CANONICAL_FIELDS = frozenset(Columns.model_fields)


class VendorMapping(_Strict):
    """Declarative description of one vendor file layout (see ``mappings/*.toml``)."""

    name: str
    format: Literal["csv", "parquet", "jsonl"]
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
    date: DateSpec | None = Field(default=None, description="date of relative_to='date' times")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    jsonl: JsonlOptions = Field(default_factory=JsonlOptions)
    member: str | None = Field(
        default=None, description="regex naming the member of a zip archive (default: the only one)"
    )
    nulls: dict[str, list[str]] = Field(
        default_factory=dict, description="canonical field -> vendor values meaning 'absent'"
    )
    keep: list[RowFilter] = Field(default_factory=list)
    flags: FlagSpec | None = None
    conditions_format: Literal["list", "chars"] = Field(
        default="list", description="'list': comma-separated codes; 'chars': one code per char"
    )
    valid_conditions: list[str] | None = Field(
        default=None, description="sale-condition codes of a regular trade for this source"
    )
    quote_book: QuoteBook = Field(
        default="none",
        description="carry one-sided quote updates into two-sided top of book, per venue or "
        "consolidated, reset at session start",
    )
    duplicates: DuplicatePolicy = Field(
        default="evidence",
        description="identical rows: removed only with trade ids/sequence numbers ('evidence'), "
        "always ('drop') or never ('keep'); kept ones are counted as possible duplicates",
    )
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
        relative = [t for t in (self.time, self.recv_time) if t and t.relative_to == "date"]
        if relative and self.date is None:
            raise ValueError("time relative_to = 'date' needs a [date] section (from_path/column)")
        unknown = set(self.nulls) - _CANONICAL_FIELDS
        if unknown:
            raise ValueError(f"nulls: unknown canonical fields {sorted(unknown)}")
        if self.quote_book != "none" and RecordType.QUOTE not in kinds:
            raise ValueError("quote_book needs quote records")
        if self.quote_book == "venue" and self.columns.exchange is None:
            raise ValueError("quote_book = 'venue' needs columns.exchange")
        if self.format != "jsonl" and self.jsonl.prefix:
            raise ValueError("jsonl.prefix applies to format = 'jsonl' only")
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
        try:
            if p.suffix == ".toml":
                data = tomllib.loads(text)
            elif p.suffix in (".yaml", ".yml"):
                import yaml  # lazy: only YAML mappings need it

                data = yaml.safe_load(text)
            elif p.suffix == ".json":
                data = json.loads(text)
            else:
                raise ValueError(f"{p}: mapping files must be .toml, .yaml/.yml or .json")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{p}: not a valid mapping file: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{p}: mapping must be a table/object")
        data.setdefault("name", p.stem)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"{p}: invalid vendor mapping:\n{exc}") from exc


def mapping_dirs() -> list[Path]:
    """Where mappings are looked up, first wins: ``QUANT_MAPPINGS_DIR`` entries, then packaged."""
    user = [
        Path(p) for p in process_environment().get(MAPPINGS_ENV, "").split(os.pathsep) if p.strip()
    ]
    return [*user, MAPPINGS_DIR]


def mapping_files() -> dict[str, Path]:
    """Mapping name -> file, user directories shadowing packaged mappings of the same name."""
    found: dict[str, Path] = {}
    for folder in mapping_dirs():
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix in _MAPPING_SUFFIXES and p.is_file():
                found.setdefault(p.stem, p)
    return found


def available_mappings() -> list[str]:
    """Names of every mapping (user and packaged)."""
    return sorted(mapping_files())


def load_mapping(name: str) -> VendorMapping:
    """Mapping by name (``binance_trades``), or a path to a mapping file."""
    candidate = Path(name)
    if candidate.suffix in _MAPPING_SUFFIXES and candidate.is_file():
        return VendorMapping.from_file(candidate)
    path = mapping_files().get(name)
    if path is None:
        raise UnknownSourceError(
            f"unknown vendor mapping {name!r}; mappings ({MAPPINGS_ENV} and packaged): "
            f"{available_mappings()}"
        )
    return VendorMapping.from_file(path)


def all_mappings() -> dict[str, VendorMapping]:
    """Every loadable mapping by name; an invalid user file is skipped here (``quant mapping
    check`` and reading a file with it report the error)."""
    out = {}
    for name, path in mapping_files().items():
        try:
            out[name] = VendorMapping.from_file(path)
        except (ValueError, OSError):
            continue
    return out


def condition_tables() -> dict[str, frozenset[str]]:
    """Regular sale-condition codes per source label, from mappings that declare them."""
    return {
        m.source_label: frozenset(m.valid_conditions)
        for m in all_mappings().values()
        if m.valid_conditions is not None
    }


def duplicate_policies() -> dict[str, DuplicatePolicy]:
    """Duplicate policy per source label, where a mapping sets one other than the default."""
    return {
        m.source_label: m.duplicates for m in all_mappings().values() if m.duplicates != "evidence"
    }
