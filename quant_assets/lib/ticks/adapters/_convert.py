"""Vectorised Arrow conversions shared by the adapters.

Every conversion runs on whole columns; only when one fails do we bisect to the first bad element
(O(n) extra work, error path only) so the :class:`MalformedFileError` can name the row and value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.adapters._timeofday import (
    TAQ_CLOCK,
    clock_ns_fixed,
    clock_ns_text,
    localize_constant_offset,
    taq_clock_ns,
)
from quant_assets.lib.ticks.schema import TICK_SCHEMA, TIMESTAMP, conform

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray
Converter = Callable[[pa.Array], pa.Array]
TimeUnit = Literal["s", "ms", "us", "ns"]

_NS_PER_UNIT: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError)


class ConversionError(ValueError):
    """A column could not be converted; ``index`` is the 0-based row of the first bad value."""

    def __init__(self, index: int | None, problem: str) -> None:
        self.index = index
        self.problem = problem
        super().__init__(problem)


def _combine(arr: ArrayLike) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def convert(arr: ArrayLike, fn: Converter, describe: Callable[[object], str]) -> pa.Array:
    """Apply ``fn`` to the whole column; on failure raise :class:`ConversionError` naming the first
    element for which ``fn`` fails (found by bisection) and ``describe(value)``."""
    flat = _combine(arr)
    try:
        return fn(flat)
    except _ARROW_ERRORS as exc:
        lo, hi = 0, len(flat)
        while hi - lo > 1:  # invariant: fn fails somewhere in flat[lo:hi]
            mid = (lo + hi) // 2
            try:
                fn(flat.slice(lo, mid - lo))
            except _ARROW_ERRORS:
                hi = mid
            else:
                lo = mid
        if hi - lo == 1:
            try:
                fn(flat.slice(lo, 1))
            except _ARROW_ERRORS:
                raise ConversionError(lo, describe(flat[lo].as_py())) from exc
        # The failure depends on more than one element (e.g. an overflow in a sum): no single row.
        raise ConversionError(None, str(exc)) from exc


def _strip(arr: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(arr) if pa.types.is_string(arr.type) else arr


def _cast_number(a: pa.Array, target: pa.DataType) -> pa.Array:
    """Text to a number; whitespace is trimmed only when the plain cast fails (it is rare and
    trimming copies every value)."""
    try:
        return pc.cast(a, target)
    except _ARROW_ERRORS:
        if not pa.types.is_string(a.type):
            raise
        return pc.cast(_strip(a), target)


def to_float(arr: ArrayLike, scale: float = 1.0) -> pa.Array:
    """Numbers times ``scale``; a scale of 1/k (fixed-point 1e-4, 1e-9) divides by the integer
    k, which rounds correctly (5853000 x 1e-4 = 585.3000000000001, 5853000 / 1e4 = 585.3)."""
    inverse = 1.0 / scale
    divisor = (
        round(inverse) if scale < 1.0 and abs(inverse - round(inverse)) < 1e-9 * inverse else 0
    )

    def fn(a: pa.Array) -> pa.Array:
        out = _cast_number(a, pa.float64())
        if scale == 1.0:
            return out
        return pc.divide(out, float(divisor)) if divisor else pc.multiply(out, scale)

    return convert(arr, fn, lambda v: f"could not parse {v!r} as a number")


def to_int64(arr: ArrayLike) -> pa.Array:
    def fn(a: pa.Array) -> pa.Array:
        return _cast_number(a, pa.int64())

    return convert(arr, fn, lambda v: f"could not parse {v!r} as an integer")


def to_text(arr: ArrayLike) -> pa.Array:
    flat = _combine(arr)
    if pa.types.is_boolean(flat.type):
        return pc.if_else(flat, "true", "false")
    return pc.cast(flat, pa.string())


def map_values(
    arr: ArrayLike, table: Mapping[str, str | None], what: str, *, case_sensitive: bool = False
) -> pa.Array:
    """Translate vendor codes (e.g. ``buyer_maker`` true/false) via ``table``; values missing from
    the table are an error, not a silent null, because they usually mean a vendor format change."""
    text = pc.utf8_trim_whitespace(to_text(arr))
    keys = list(table)
    if not case_sensitive:
        text = pc.utf8_lower(text)
        keys = [k.lower() for k in keys]
    idx = pc.index_in(text, value_set=pa.array(keys, pa.string()))
    unknown = pc.and_(pc.is_valid(text), pc.is_null(idx))
    if pc.any(unknown).as_py():
        first = int(np.flatnonzero(unknown.to_numpy(zero_copy_only=False))[0])
        raise ConversionError(
            first,
            f"unexpected {what} value {_combine(arr)[first].as_py()!r}; expected one of {keys}",
        )
    values = pa.array([None if v in (None, "") else v for v in table.values()], pa.string())
    return pc.take(values, idx)


def parse_origin(origin: str | int) -> int:
    """Epoch origin in ns since 1970 UTC; accepts ns ints or ISO datetimes (naive = UTC)."""
    if isinstance(origin, int):
        return origin
    dt = datetime.fromisoformat(origin)
    if dt.tzinfo is None:
        raise ValueError(f"time origin {origin!r} must carry a UTC offset")
    return int(pa.scalar(dt, pa.timestamp("ns", tz="UTC")).value)


_DECIMAL = r"^(?P<sign>[-+]?)(?P<int>\d+)(?:\.(?P<frac>\d*))?$"


def _decimal_to_ns(text: pa.Array, factor: int) -> pa.Array:
    """Exact ns from decimal text (``1583020803146000.0`` us, ``-3.25`` s): integer and fraction
    digits are scaled as integers, so no value goes through float64 (53-bit) rounding.
    Fraction digits below 1 ns are truncated. Rows that are not plain decimals (``1.5e15``)
    fall back to float64."""
    digits = len(str(factor)) - 1  # factor is a power of ten
    parts = pc.extract_regex(text, _DECIMAL)
    whole = pc.cast(pc.struct_field(parts, "int"), pa.int64())
    ns = pc.multiply_checked(whole, factor)
    if digits:
        frac = pc.utf8_slice_codeunits(pc.fill_null(pc.struct_field(parts, "frac"), ""), 0, digits)
        frac_ns = pc.cast(pc.utf8_rpad(frac, width=digits, padding="0"), pa.int64())
        ns = pc.add_checked(ns, frac_ns)
    negative = pc.equal(pc.struct_field(parts, "sign"), "-")
    ns = pc.if_else(negative, pc.negate_checked(ns), ns)
    other = pc.and_(pc.is_valid(text), pc.is_null(parts))
    if pc.any(other).as_py():
        as_float = pc.cast(pc.cast(text, pa.float64()), pa.float64())  # raises on junk
        approx = pc.cast(pc.round(pc.multiply(as_float, float(factor))), pa.int64())
        ns = pc.if_else(other, approx, ns)
    return ns


def _numeric_to_ns(a: pa.Array, unit: TimeUnit, origin_ns: int) -> pa.Array:
    """Epoch numbers to ns: integers and decimal text exactly, float columns rounded."""
    factor = _NS_PER_UNIT[unit]
    if pa.types.is_string(a.type):
        try:  # the common case: integer text, one cast
            ns = pc.multiply_checked(_cast_number(a, pa.int64()), factor)
        except _ARROW_ERRORS:
            ns = _decimal_to_ns(pc.utf8_trim_whitespace(a), factor)
    elif pa.types.is_floating(a.type):
        ns = pc.cast(pc.round(pc.multiply(pc.cast(a, pa.float64()), float(factor))), pa.int64())
    else:
        ns = pc.multiply_checked(pc.cast(a, pa.int64()), factor)
    if origin_ns:
        ns = pc.add_checked(ns, origin_ns)
    return pc.cast(ns, TIMESTAMP)


_FRACTION = re.compile(r"[.,]%f")


def _strptime_to_ts(a: pa.Array, fmt: str) -> pa.Array:
    """Arrow's strptime has no portable %f, so fractions are split off and added as integer ns;
    a value without the fraction (TrueFX writes whole seconds as ``22:09:27``) parses as .0."""
    text = pc.utf8_trim_whitespace(a)
    m = _FRACTION.search(fmt)
    if m is None:
        out = pc.strptime(text, format=fmt, unit="ns", error_is_null=True)
        frac_ns: pa.Array | None = None
    else:
        sep = re.escape(m.group(0)[0])
        pattern = rf"^(?P<head>.*?)(?:{sep}(?P<frac>\d{{1,9}}))?(?P<tail>\D*)$"
        parts = pc.extract_regex(text, pattern)
        head = pc.binary_join_element_wise(
            pc.struct_field(parts, "head"), pc.struct_field(parts, "tail"), ""
        )
        out = pc.strptime(
            head, format=fmt[: m.start()] + fmt[m.end() :], unit="ns", error_is_null=True
        )
        frac = pc.fill_null(pc.struct_field(parts, "frac"), "")
        frac_ns = pc.cast(pc.utf8_rpad(frac, width=9, padding="0"), pa.int64())
    if pc.sum(pc.and_(pc.is_valid(text), pc.is_null(out))).as_py():
        raise pa.ArrowInvalid(f"does not match format {fmt!r}")
    if frac_ns is not None:
        base = pc.cast(out, pa.int64())
        out = pc.cast(pc.add(base, frac_ns), out.type)
    return out


def to_timestamp(
    arr: ArrayLike,
    *,
    unit: TimeUnit | None = None,
    fmt: str | None = None,
    origin_ns: int = 0,
    timezone: str = "UTC",
    midnight: pa.Array | None = None,
) -> pa.Array:
    """Convert any vendor time column to ``timestamp[ns, UTC]``: epoch numbers (``unit`` +
    ``origin``), ISO strings (with or without offset), strptime text, or Arrow timestamps. Naive
    wall-clock values are interpreted in ``timezone`` (so DST is handled by the tz database);
    values that carry their own offset with a non-UTC ``timezone`` are an error, not a silent
    choice. ``midnight`` (naive ``timestamp[ns]`` per row, the local date) makes the values
    wall-clock times after that midnight: ``unit`` numbers or ``fmt`` time-of-day text."""
    flat = _combine(arr)
    if midnight is not None:
        return _relative_to_midnight(flat, midnight, unit, fmt, timezone)

    def localize(ts: pa.Array) -> pa.Array:
        if ts.type.tz is None:
            ts = pc.assume_timezone(ts, timezone, ambiguous="raise", nonexistent="raise")
        elif timezone != "UTC":
            raise TimezoneConflict(
                f"values carry their own UTC offset, so timezone {timezone!r} cannot apply; "
                "remove timezone from the mapping"
            )
        return pc.cast(ts, TIMESTAMP)

    if pa.types.is_timestamp(flat.type):
        if flat.type.tz is not None and timezone != "UTC":
            localize(flat.slice(0, 0))  # raises TimezoneConflict for the whole column
        return convert(flat, localize, lambda v: f"invalid timestamp {v!r}")
    if pa.types.is_date(flat.type):
        return convert(
            flat, lambda a: localize(pc.cast(a, pa.timestamp("ns"))), lambda v: f"bad date {v!r}"
        )
    if unit is not None:
        return convert(
            flat,
            lambda a: _numeric_to_ns(a, unit, origin_ns),
            lambda v: f"could not parse {v!r} as a {unit} epoch timestamp",
        )
    if not pa.types.is_string(flat.type):
        flat = pc.cast(flat, pa.string())
    if fmt is not None and fmt.lower() != "iso":
        strptime_fmt = fmt
        return convert(
            flat,
            lambda a: localize(_strptime_to_ts(a, strptime_fmt)),
            lambda v: f"could not parse {v!r} as a timestamp with format {strptime_fmt!r}",
        )
    # ISO 8601: the first value decides whether the column carries UTC offsets.
    first = pc.drop_null(flat)
    aware = False
    if len(first):
        try:
            pc.cast(pc.utf8_trim_whitespace(first.slice(0, 1)), TIMESTAMP)
            aware = True
        except _ARROW_ERRORS:
            aware = False
    target = TIMESTAMP if aware else pa.timestamp("ns")
    if aware and timezone != "UTC":
        localize(pa.array([0], TIMESTAMP))  # raises TimezoneConflict
    return convert(
        flat,
        lambda a: localize(pc.cast(pc.utf8_trim_whitespace(a), target)),
        lambda v: f"could not parse {v!r} as an ISO-8601 timestamp"
        + (" with UTC offset" if aware else ""),
    )


class TimezoneConflict(ValueError):
    """A mapping's ``timezone`` cannot apply to the values (they carry offsets)."""


def _relative_to_midnight(
    flat: pa.Array, midnight: pa.Array, unit: TimeUnit | None, fmt: str | None, timezone: str
) -> pa.Array:
    """Local midnight (naive) + wall-clock offset, localised in ``timezone`` (DST-correct: the
    tz database gives each day its own UTC offset)."""
    base = pc.cast(pc.cast(midnight, pa.timestamp("ns")), pa.int64())

    def offsets(a: pa.Array) -> pa.Array:
        if unit is not None:
            if pa.types.is_string(a.type):
                return _decimal_to_ns(pc.utf8_trim_whitespace(a), _NS_PER_UNIT[unit])
            return pc.cast(_numeric_to_ns(a, unit, 0), pa.int64())
        assert fmt is not None
        if fmt == TAQ_CLOCK:
            return taq_clock_ns(a)
        text = a if pa.types.is_string(a.type) else pc.cast(a, pa.string())
        fast = clock_ns_fixed(text, fmt)
        if fast is None:
            fast = clock_ns_text(pc.utf8_trim_whitespace(text), fmt)
        if fast is not None:
            return fast
        tod = _strptime_to_ts(
            pc.binary_join_element_wise("1970-01-01 ", text, ""), f"%Y-%m-%d {fmt}"
        )
        return pc.cast(tod, pa.int64())

    describe = (
        (lambda v: f"could not parse {v!r} as {unit} after midnight")
        if unit is not None
        else (lambda v: f"could not parse {v!r} as a time of day with format {fmt!r}")
    )
    off = convert(flat, offsets, describe)
    local = pc.add_checked(base, off)
    if not local.null_count:
        fast = localize_constant_offset(local.to_numpy(), timezone)
        if fast is not None:
            return fast
    naive = pc.cast(local, pa.timestamp("ns"))
    return convert(
        naive,
        lambda a: pc.cast(
            pc.assume_timezone(a, timezone, ambiguous="raise", nonexistent="raise"), TIMESTAMP
        ),
        lambda v: f"local time {v} does not exist or is ambiguous in {timezone}",
    )


def finalize(table: pa.Table, *, narrow: bool = False) -> pa.Table:
    """Canonical column order/types, rows in the vendor's order: an out-of-order timestamp is
    evidence the cleaning stage quarantines (``non_monotonic_time``), so it must stay visible.
    ``narrow`` leaves out the canonical columns the table lacks (landing groups and spills
    only the columns a vendor has; :func:`schema.conform` adds the rest per partition)."""
    if not narrow:
        return conform(table)
    fields = [f for f in TICK_SCHEMA if f.name in table.column_names]
    return conform(table.select([f.name for f in fields]), pa.schema(fields))
