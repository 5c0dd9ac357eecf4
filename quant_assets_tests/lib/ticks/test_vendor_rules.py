"""Vendor data-quality rules on small arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from quant_assets.lib.ticks.vendor_rules import absurd, duplicate_verdicts, infer_tick_size


def test_infer_tick_size_from_price_grid() -> None:
    cents = np.round(np.linspace(13.5, 14.0, 200), 2)
    assert infer_tick_size(cents) == pytest.approx(0.01)
    quarters = np.arange(4000.0, 4010.0, 0.25)
    assert infer_tick_size(quarters) == pytest.approx(0.25)
    assert infer_tick_size(np.array([1.0, 2.0])) is None


def test_duplicate_verdicts_keep_policy_never_removes() -> None:
    table = pa.table(
        {
            "trade_id": ["a", "a"],
            "sequence": pa.array([None, None], pa.int64()),
            "source": ["v", "v"],
        }
    )
    repeats = np.array([False, True])
    error, possible = duplicate_verdicts(repeats, table, {"v": "keep"})
    assert error.tolist() == [False, False] and possible.tolist() == [False, True]
    error, _ = duplicate_verdicts(repeats, table, {})
    assert error.tolist() == [False, True]  # a repeated trade id is a re-send


def test_absurd_flags_only_finite_values_beyond_the_bound() -> None:
    values = np.array([1.0, 1e308, np.inf, np.nan, -2e9])
    assert absurd(values, 1e9).tolist() == [False, True, False, False, True]
    assert not absurd(np.array([1.0, 2.0]), 1e9).any()
