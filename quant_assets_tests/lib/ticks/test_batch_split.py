"""A landed batch grouped by partition: the same rows, order and keys as the lake's split."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from quant_assets.lib.ticks.batch_split import complete_piece, partition_rows, split_batch
from quant_assets.lib.ticks.lake import SessionOutOfRangeError, split_by_partition
from quant_assets.lib.ticks.schema import TIMESTAMP, conform
from quant_assets.lib.ticks.sessions import SessionRange

OPEN_2024_01_02 = 1_704_205_800_000_000_000  # 09:30 New York in UTC ns


def _ticks(n: int) -> pa.Table:
    rng = np.random.default_rng(3)
    ts = OPEN_2024_01_02 + rng.integers(0, 2 * 86_400, n) * 10**9  # two days of sessions
    symbols = np.array(["AAPL", "ibm", "IBM", "BTC/USDT"])[rng.integers(0, 4, n)]
    return pa.table(
        {
            "ts_event": pa.array(ts, TIMESTAMP),
            "symbol": pa.array(symbols),
            "price": pa.array(rng.uniform(10, 20, n)),
            "exchange": pa.array(np.array(["N", "P"])[rng.integers(0, 2, n)]),
        }
    )


def test_split_batch_equals_lake_split_of_normalized_symbols() -> None:
    table = _ticks(5_000)
    normalized = table.set_column(
        1, "symbol", pa.array([s.upper().replace("/", "") for s in table["symbol"].to_pylist()])
    )
    expected = split_by_partition(normalized)
    pieces = split_batch(table)
    assert set(pieces) == set(expected) and len(pieces) > 4
    constants = {"source": "t", "record_type": "trade"}
    for key, piece in pieces.items():
        want = expected[key]
        for name, value in constants.items():
            want = want.append_column(name, pa.repeat(pa.scalar(value), want.num_rows))
        assert complete_piece(piece, key[1], constants).equals(conform(want))


def test_partition_rows_counts_each_partition() -> None:
    table = _ticks(2_000)
    assert partition_rows(table) == {k: v.num_rows for k, v in split_batch(table).items()}


def test_split_batch_first_row_outside_allowed_sessions_named() -> None:
    table = _ticks(100)
    with pytest.raises(SessionOutOfRangeError) as info:
        split_batch(table, SessionRange(date(2024, 1, 3), date(2024, 1, 10)))
    days = [k[0] for k in split_batch(table.slice(info.value.row, 1))]
    assert days[0] < date(2024, 1, 3)
    assert all(d >= date(2024, 1, 3) for d, _ in split_batch(table.slice(0, info.value.row)))
