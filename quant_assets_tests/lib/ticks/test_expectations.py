"""The blocking GX suite catches non-finite and absurd numbers that cleaning must not pass."""

from __future__ import annotations

import pyarrow as pa
import pytest

from quant_assets.lib.ticks.expectations import FINITE, validate_clean_ticks
from quant_assets.lib.ticks.schema import conform

T0 = 1_704_205_800_000_000_000


def _trades(prices: list[float], sizes: list[float]) -> pa.Table:
    n = len(prices)
    return conform(
        pa.table(
            {
                "ts_event": pa.array([T0 + i for i in range(n)], pa.timestamp("ns", tz="UTC")),
                "symbol": ["SPY"] * n,
                "record_type": ["trade"] * n,
                "price": prices,
                "size": sizes,
                "source": ["test"] * n,
            }
        )
    )


@pytest.mark.slow  # great_expectations: ~15 s on 2 shared cores
def test_validate_clean_ticks_non_finite_and_absurd_values_fail_the_suite() -> None:
    assert validate_clean_ticks(_trades([100.0, 100.01], [10.0, 5.0]), "SPY").success
    outcome = validate_clean_ticks(
        _trades([100.0, float("inf"), 1e308, 100.0], [10.0, 1.0, 1.0, float("nan")]), "SPY"
    )
    failed = {f.column for f in outcome.failures}
    assert not outcome.success
    assert {"price", FINITE} <= failed


@pytest.mark.slow  # great_expectations import
def test_validate_clean_ticks_other_symbol_fails_with_one_suite_for_all_symbols() -> None:
    from quant_assets.lib.ticks import expectations

    table = _trades([100.0, 100.01], [10.0, 5.0])  # symbol SPY
    assert validate_clean_ticks(table, "SPY").success
    wrong = validate_clean_ticks(table, "QQQ")
    assert not wrong.success
    assert {f.column for f in wrong.failures} == {"symbol"}
    assert expectations._suite.cache_info().currsize == 1  # no suite per symbol
