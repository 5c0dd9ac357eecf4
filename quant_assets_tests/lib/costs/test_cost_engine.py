"""Each cost component against hand-computed values; participation-cap clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quant_assets.lib.costs import CostModelConfig, apply_costs, compute_costs, cost_coefficients

NO_EXTRAS = {
    "commission_per_share": 0.0,
    "commission_min_per_trade": 0.0,
    "commission_max_pct_notional": None,
    "spread_source": "fixed",
    "fixed_spread_bps": 0.0,
    "impact_model": "none",
    "max_participation": None,
}


def _costs(shares: list[float], **overrides: object) -> object:
    cfg = CostModelConfig(**{**NO_EXTRAS, **overrides})  # type: ignore[arg-type]
    return compute_costs(
        cfg, shares, [50.0] * len(shares), daily_vol=0.02, adv=1_000_000, bar_seconds=60
    )


def test_commission_per_share_with_minimum_charges_max_of_both() -> None:
    b = _costs([100.0, -1000.0, 0.0], commission_per_share=0.005, commission_min_per_trade=1.0)
    assert b.commission.tolist() == pytest.approx([1.0, 5.0, 0.0])  # type: ignore[attr-defined]


def test_commission_bps_and_per_trade_add_up() -> None:
    # 200 sh * $50 = $10,000 notional; 2 bps = $2; plus $0.5 per trade
    b = _costs([200.0], commission_bps=2.0, commission_per_trade=0.5)
    assert b.commission[0] == pytest.approx(2.5)  # type: ignore[attr-defined]


def test_commission_cap_limits_to_pct_of_notional() -> None:
    # 10 sh * $50 = $500 notional: the $1 minimum exceeds a 0.1% cap ($0.5), so the cap wins
    b = _costs([10.0], commission_min_per_trade=1.0, commission_max_pct_notional=0.001)
    assert b.commission[0] == pytest.approx(0.5)  # type: ignore[attr-defined]


def test_spread_quoted_charges_half_spread_per_share_and_nan_falls_back() -> None:
    cfg = CostModelConfig(**{**NO_EXTRAS, "spread_source": "quoted", "fixed_spread_bps": 4.0})  # type: ignore[arg-type]
    b = compute_costs(
        cfg,
        [100.0, -100.0],
        [50.0, 50.0],
        spread=[0.02, np.nan],
        daily_vol=0.02,
        adv=1e6,
        bar_seconds=60,
    )
    # 0.5 * 0.02 * 100 = 1.0; fallback 0.5 * 4bps * 50 * 100 = 1.0
    assert b.spread.tolist() == pytest.approx([1.0, 1.0])


def test_sqrt_impact_matches_square_root_law() -> None:
    b = _costs([10_000.0], impact_model="sqrt", sqrt_impact_coef=1.0)
    # Y sigma sqrt(Q/V) * price * Q = 0.02 * sqrt(0.01) * 50 * 10,000 = 1000
    assert b.impact_sqrt[0] == pytest.approx(1000.0)  # type: ignore[attr-defined]
    assert b.impact_temporary[0] == 0.0  # type: ignore[attr-defined]


def test_almgren_chriss_impact_matches_hand_computation() -> None:
    b = _costs([10_000.0], impact_model="almgren_chriss", ac_eta=0.1, ac_gamma=0.3)
    horizon = 60 / 23_400
    temp = 0.1 * 0.02 * (10_000 / (1e6 * horizon)) * 50 * 10_000
    perm = 0.5 * 0.3 * 0.02 * (10_000 / 1e6) * 50 * 10_000
    assert b.impact_temporary[0] == pytest.approx(temp)  # type: ignore[attr-defined]
    assert b.impact_permanent[0] == pytest.approx(perm)  # type: ignore[attr-defined]
    assert b.impact_sqrt[0] == 0.0  # type: ignore[attr-defined]
    assert math.isclose(b.total[0], temp + perm)  # type: ignore[attr-defined]


def test_participation_cap_over_limit_clips_fill_and_reports_unfilled() -> None:
    cfg = CostModelConfig(**{**NO_EXTRAS, "max_participation": 0.1, "commission_per_share": 0.01})  # type: ignore[arg-type]
    b = compute_costs(
        cfg,
        [500.0, -500.0, 50.0],
        [50.0] * 3,
        bar_volume=[1000.0, 2000.0, 1000.0],
        daily_vol=0.02,
        adv=1e6,
        bar_seconds=60,
    )
    assert b.filled.tolist() == [100.0, -200.0, 50.0]
    assert b.unfilled.tolist() == [400.0, -300.0, 0.0]
    assert b.commission.tolist() == pytest.approx([1.0, 2.0, 0.5])  # charged on fills only


def test_participation_cap_zero_volume_fills_nothing_and_charges_nothing() -> None:
    cfg = CostModelConfig(max_participation=0.025)
    b = compute_costs(
        cfg,
        [100.0],
        [50.0],
        bar_volume=[0.0],
        spread=[0.01],
        daily_vol=0.02,
        adv=1e6,
        bar_seconds=60,
    )
    assert b.filled[0] == 0.0 and b.total[0] == 0.0


def test_cap_without_bar_volume_raises() -> None:
    with pytest.raises(ValueError, match="bar_volume"):
        compute_costs(CostModelConfig(), [1.0], [50.0], daily_vol=0.02, adv=1e6, bar_seconds=60)


def test_apply_costs_with_index_equals_per_bar_compute() -> None:
    cfg = CostModelConfig(max_participation=None)
    kwargs = {"daily_vol": 0.02, "adv": 1e6, "bar_seconds": 60.0, "spread": [0.01, 0.03, 0.02]}
    coeffs = cost_coefficients(cfg, [10.0, 20.0, 30.0], **kwargs)  # type: ignore[arg-type]
    picked = apply_costs(coeffs, [300.0, -300.0], index=[2, 0])
    full = compute_costs(cfg, [-300.0, 0.0, 300.0], [10.0, 20.0, 30.0], **kwargs)  # type: ignore[arg-type]
    assert picked.total.tolist() == pytest.approx([full.total[2], full.total[0]])
    totals = full.totals()
    assert totals["total"] == pytest.approx(float(full.total.sum()))
    assert set(totals) >= {"commission", "spread", "impact_sqrt"}
