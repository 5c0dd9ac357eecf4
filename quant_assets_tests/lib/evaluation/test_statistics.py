"""Pooled per-bar statistics pinned on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quant_assets.lib.evaluation.statistics import (
    ReturnSeries,
    bars_per_year,
    drawdown,
    hit_rate,
    max_drawdown,
    performance,
    pool,
    rolling_sharpe,
    sessions_per_year,
    sharpe_ratio,
    sortino_ratio,
)

# r = [1%, -2%, 1.5%, 0.5%]: mean 0.25 %, sd (ddof 1) = sqrt(7.25e-4 / 3) = 1.55456 %,
# downside deviation = sqrt(0.02^2 / 4) = 1 %, equity 1, 1.01, 0.9898, 1.004647, 1.009670
# (peak 1.01 is never regained: drawdowns 2 %, 0.53 %, 0.0327 %).
R = np.array([0.01, -0.02, 0.015, 0.005])


def _series(r: np.ndarray, start_ns: int = 0, **kw: object) -> ReturnSeries:
    return ReturnSeries(
        policy="p",
        ts=start_ns + np.arange(1, r.size + 1, dtype=np.int64) * 60_000_000_000,
        returns=r,
        fold=np.zeros(r.size, np.int64),
        capital=1_000_000.0,
        traded_notional=kw.pop("traded_notional", 0.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_sharpe_known_returns_hand_computed() -> None:
    assert sharpe_ratio(R, 100.0) == pytest.approx(1.608169, rel=1e-6)
    assert sharpe_ratio(np.full(5, 0.001), 100.0) == 0.0  # constant: undefined -> 0
    assert sharpe_ratio(R[:1], 100.0) == 0.0


def test_sortino_known_returns_hand_computed() -> None:
    assert sortino_ratio(R, 100.0) == pytest.approx(2.5)
    assert sortino_ratio(np.array([0.01, 0.02]), 252.0) == math.inf
    assert sortino_ratio(np.zeros(3), 252.0) == 0.0


def test_max_drawdown_pooled_curve_peak_to_trough() -> None:
    assert max_drawdown(R) == pytest.approx(0.02)  # 1.01 -> 0.9898
    np.testing.assert_allclose(
        drawdown(R), [0, 0, 0.02, 1 - 0.98 * 1.015, 1 - 0.98 * 1.015 * 1.005], atol=1e-9
    )
    assert max_drawdown(np.array([0.01, 0.01])) == 0.0


def test_hit_rate_ignores_flat_bars() -> None:
    assert hit_rate(np.array([0.01, 0.0, -0.01, 0.02, 0.0])) == pytest.approx(2 / 3)
    assert math.isnan(hit_rate(np.zeros(3)))


def test_bars_per_year_calendar_aware() -> None:
    assert bars_per_year("24/7", 60.0) == pytest.approx(525_960.0)
    xnys = bars_per_year("XNYS", 60.0)
    assert 97_000 < xnys < 98_300  # ~252 sessions x 390 min, less early closes
    assert bars_per_year("XNYS", 300.0) == pytest.approx(xnys / 5)
    assert 250 < sessions_per_year("XNYS") < 253
    with pytest.raises(ValueError, match="bar_seconds"):
        bars_per_year("XNYS", 0.0)


def test_performance_units_costs_in_bps_of_notional() -> None:
    s = _series(
        R,
        traded_notional=2_000_000.0,
        costs={"commission": 100.0, "spread": 300.0, "impact": 50.0},
        n_episodes=2,
        n_trades=3,
    )
    p = performance(s, bars_per_year=100.0, bars_per_session=2.0)
    assert p.sharpe_annual == pytest.approx(1.608169, rel=1e-6)
    assert p.sortino_annual == pytest.approx(2.5)
    assert p.max_drawdown_pct == pytest.approx(2.0)
    assert p.total_return_pct == pytest.approx((1.01 * 0.98 * 1.015 * 1.005 - 1) * 100)
    assert p.annual_return_pct == pytest.approx(25.0)  # 0.25 % x 100 bars
    assert p.hit_rate_pct == pytest.approx(75.0)
    assert (p.cost_commission_bps, p.cost_spread_bps, p.cost_impact_bps) == pytest.approx(
        (0.5, 1.5, 0.25)
    )
    assert p.cost_total_bps == pytest.approx(2.25)
    assert p.turnover_x_capital == pytest.approx(2.0) and p.sessions == pytest.approx(2.0)
    assert p.turnover_per_session_x == pytest.approx(1.0)


def test_pool_concatenates_in_time_order_and_sums_money() -> None:
    late = _series(R[2:], start_ns=10**12, traded_notional=5.0, costs={"spread": 1.0})
    early = _series(R[:2], traded_notional=3.0, costs={"spread": 2.0, "impact": 1.0})
    pooled = pool([late, early])
    np.testing.assert_array_equal(pooled.returns, R)
    assert pooled.traded_notional == 8.0 and pooled.costs == {"spread": 3.0, "impact": 1.0}
    with pytest.raises(ValueError, match="overlap"):
        pool([_series(R), _series(R[:2], start_ns=60_000_000_000)])


def test_rolling_sharpe_window_matches_full_sharpe_at_end() -> None:
    out = rolling_sharpe(R, 4, 100.0)
    assert np.isnan(out[:3]).all() and out[-1] == pytest.approx(1.608169, rel=1e-6)
