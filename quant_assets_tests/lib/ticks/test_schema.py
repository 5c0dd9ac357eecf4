"""The canonical tick schema: conform is free on lake objects and strict on everything else."""

from __future__ import annotations

import pyarrow as pa
import pytest

from quant_assets.lib.ticks.schema import TICK_SCHEMA, SchemaError, conform


def _canonical(ts: list[int | None]) -> pa.Table:
    n = len(ts)
    arrays = [
        (
            pa.array(ts, f.type)
            if f.name == "ts_event"
            else pa.array(["x"] * n, f.type) if not f.nullable else pa.nulls(n, f.type)
        )
        for f in TICK_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=TICK_SCHEMA)


def test_conform_canonical_table_returned_unchanged() -> None:
    table = _canonical([1, 2])
    assert conform(table) is table


def test_conform_canonical_schema_null_required_value_rejected() -> None:
    with pytest.raises(SchemaError, match="ts_event"):
        conform(_canonical([1, None]))


def test_conform_missing_optional_columns_filled_with_nulls() -> None:
    table = pa.table(
        {
            "ts_event": pa.array([1], pa.timestamp("ns", tz="UTC")),
            "symbol": ["A"],
            "record_type": ["trade"],
            "source": ["s"],
            "price": pa.array([1], pa.int64()),  # cast to float64
        }
    )
    out = conform(table)
    assert out.schema.equals(TICK_SCHEMA) and out.column("price").to_pylist() == [1.0]
    assert out.column("bid_price").null_count == 1
