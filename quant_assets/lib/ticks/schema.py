"""Canonical tick schema: every adapter emits exactly this Arrow schema.

Trades and top-of-book quotes share one table (``record_type`` tells them apart) so that a
partition is a single time-ordered file and quote-dependent trade rules need no join.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class RecordType(StrEnum):
    TRADE = "trade"
    QUOTE = "quote"


TIMESTAMP = pa.timestamp("ns", tz="UTC")

TICK_SCHEMA = pa.schema(
    [
        pa.field("ts_event", TIMESTAMP, nullable=False),  # exchange/event time
        pa.field("ts_recv", TIMESTAMP),  # vendor/local receive time, when the vendor has it
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),  # RecordType values
        pa.field("price", pa.float64()),  # trades
        pa.field("size", pa.float64()),  # trades
        pa.field("side", pa.string()),  # trade aggressor: "B", "S" or null
        pa.field("bid_price", pa.float64()),  # quotes
        pa.field("bid_size", pa.float64()),
        pa.field("ask_price", pa.float64()),
        pa.field("ask_size", pa.float64()),
        pa.field("exchange", pa.string()),
        pa.field("conditions", pa.string()),  # vendor sale-condition codes, comma separated
        pa.field("sequence", pa.int64()),  # vendor sequence number
        pa.field("trade_id", pa.string()),  # vendor trade id: tells apart fills of one order
        pa.field("source", pa.string(), nullable=False),  # adapter that produced the row
        pa.field("flag", pa.string()),  # vendor flag mapped to a quarantine reason; null = none
        pa.field("clock", pa.string()),  # clock of ts_event: "receive", or null = exchange clock
    ]
)

COLUMNS: tuple[str, ...] = tuple(TICK_SCHEMA.names)
_REQUIRED = [f for f in TICK_SCHEMA if not f.nullable]


class SchemaError(ValueError):
    """A table does not conform to the canonical tick schema."""


def conform(table: pa.Table, schema: pa.Schema = TICK_SCHEMA) -> pa.Table:
    """Return ``table`` with the canonical column order and types; missing optional columns are
    filled with nulls. Raises :class:`SchemaError` naming the offending column. ``schema``: a
    subset of the canonical fields, to conform only those (landing's narrow batches)."""
    required = _REQUIRED if schema is TICK_SCHEMA else [f for f in schema if not f.nullable]
    if table.schema.equals(schema) and not any(
        table.column(f.name).null_count for f in required
    ):  # already canonical (a lake object): nothing to do
        return table
    n = table.num_rows
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            try:
                if col.type != field.type:  # (a same-type cast still costs a kernel call)
                    col = col.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaError(
                    f"column {field.name!r}: cannot convert {col.type} to {field.type}: {exc}"
                ) from exc
            if not field.nullable and col.null_count:
                raise SchemaError(f"column {field.name!r}: {col.null_count} null values")
        elif field.nullable:
            col = pa.nulls(n, type=field.type)
        else:
            raise SchemaError(f"required column {field.name!r} is missing")
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def empty_ticks() -> pa.Table:
    return TICK_SCHEMA.empty_table()
