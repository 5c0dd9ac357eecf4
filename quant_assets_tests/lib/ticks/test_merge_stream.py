"""The streamed k-way merge gives lake.merge_pieces' row order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from quant_assets.lib.ticks.lake import merge_pieces
from quant_assets.lib.ticks.merge_stream import keyed, merged, rechunk
from quant_assets.lib.ticks.schema import TIMESTAMP, conform


def _piece(rng: np.random.Generator, n: int, tag: str) -> pa.Table:
    ts = np.sort(rng.integers(0, n // 3 + 1, n)) * 1_000  # many equal times across pieces
    spikes = rng.choice(n, max(1, n // 50), replace=False)
    ts[spikes] += rng.choice([-1, 1], spikes.size) * 400_000  # isolated early/late stamps
    return conform(
        pa.table(
            {
                "ts_event": pa.array(ts).cast(TIMESTAMP),
                "symbol": pa.array(["X"] * n),
                "record_type": pa.array(["trade"] * n),
                "source": pa.array([tag] * n),
                "sequence": pa.array(np.arange(n)),
            }
        )
    )


@pytest.mark.parametrize("chunk", [2, 3, 17, 1_000])
def test_merged_three_pieces_with_ties_and_spikes_equal_merge_pieces(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    pieces = [_piece(rng, n, f"p{i}") for i, n in enumerate((300, 1, 450))]
    streams = [keyed(rechunk([p], 50), chunk) for p in pieces]
    assert pa.concat_tables(merged(streams)).equals(merge_pieces(pieces))
