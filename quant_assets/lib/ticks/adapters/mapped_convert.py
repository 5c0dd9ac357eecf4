"""Vendor columns (the whole file or one record batch of it) to canonical ticks, vectorised.

Row filters, null sentinels, times (epoch, text, after a local midnight), prices with fixed-point
scales, codes, flags and symbols are converted column-wise with Arrow; a bad value raises a
:class:`MalformedFileError` naming its file line and column. Rows a filter drops are counted as
skipped, never silently lost or treated as errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

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
from quant_assets.lib.ticks.adapters.columns import from_name
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.located import Located
from quant_assets.lib.ticks.adapters.mapping import TimeSpec, VendorMapping
from quant_assets.lib.ticks.schema import RecordType

_TRADE_ONLY = ("price", "size", "side", "trade_id")
_QUOTE_ONLY = ("bid_price", "bid_size", "ask_price", "ask_size")


@dataclass(frozen=True)
class VendorRead:
    """Canonical ticks of one file and what was left out on purpose."""

    table: pa.Table
    rows_read: int  # data rows in the file
    skipped: int  # rows a row filter dropped (message types that are not ticks)
    # narrow reads: canonical columns with one value for the whole file, left out of ``table``
    constants: dict[str, str] = dataclasses.field(default_factory=dict)


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
        text = from_name(p, m.date.from_path, "date", "date.from_path")
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

    def parse(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        return to_timestamp(values, fmt=fmt, timezone="UTC").cast(pa.int64())

    distinct = pc.dictionary_encode(column)  # a day file has one or a few dates: parse those
    if isinstance(distinct, pa.ChunkedArray):
        distinct = distinct.combine_chunks()
    try:
        days = parse(distinct.dictionary).take(distinct.indices)
    except ConversionError:
        try:  # the bad value's row, from the per-row parse (error path only)
            days = parse(column)
        except ConversionError as exc:
            raise loc.error(exc, resolved["__date"]) from exc
    return days.cast(pa.timestamp("ns"))


def convert_raw(
    p: Path,
    m: VendorMapping,
    raw: pa.Table,
    resolved: dict[str, str],
    loc: Located,
    symbol: str | None,
    *,
    narrow: bool = False,
) -> VendorRead:
    """Vendor text columns (the whole file or one record batch of it) to canonical ticks in
    vendor order; no quote-book consolidation (it carries state across the file). ``narrow``:
    only the canonical columns the mapping fills (see :func:`_convert.finalize`)."""
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
    constants = _constants(m, resolved) if narrow else {}
    for name in constants:
        del out[name]
    return VendorRead(finalize(pa.table(out), narrow=narrow), rows_read, skipped, constants)


def _constants(m: VendorMapping, resolved: dict[str, str]) -> dict[str, str]:
    """Columns the mapping fills with one value for the whole file (not carried per row)."""
    out = {"source": m.source_label}
    if m.record_type is not None:
        out["record_type"] = m.record_type.value
    if m.exchange is not None and "exchange" not in resolved:
        out["exchange"] = m.exchange
    if m.time.clock == "receive":
        out["clock"] = "receive"
    return out


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
            pa.scalar(from_name(p, m.symbol_from_path, "symbol", "symbol_from_path"), pa.string()),
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
