"""The receive-time merge of the bounded build's runs is the stable sort of the whole day.
(The verdicts are tested against the in-memory build in test_streaming_build.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quant_assets.lib.ticks.receive_order import EVENT, ReceiveOrder, _Run


def test_merged_runs_many_equal_times_across_chunks_same_order_as_stable_sort(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(7)
    recv = rng.integers(0, 40, 3_000)  # long runs of equal times, split across chunks
    recv[:700] = 5  # one time spanning a whole run and the start of the next
    order = ReceiveOrder(tmp_path, [0, 3_000], window_rows=64)  # chunks of 16 events
    for start in range(0, recv.size, 500):  # runs of 500 rows, each sorted (stable)
        events = np.zeros(500, dtype=EVENT)
        events["recv"], events["row"] = recv[start : start + 500], np.arange(start, start + 500)
        events = events[np.argsort(events["recv"], kind="stable")]
        path = tmp_path / f"run{start}"
        events.tofile(path)
        order.runs.append(_Run(path, 500))
    rows = np.concatenate([batch["row"] for batch in order._merged()])
    assert np.array_equal(rows, np.argsort(recv, kind="stable"))
