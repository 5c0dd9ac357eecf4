"""Promotion gate: studentised block bootstrap over bars, margin, minimum evidence, spending."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from quant_assets.lib.evaluation.episodes import EpisodeResult, to_series
from quant_assets.lib.evaluation.promotion import (
    GateConfig,
    batch_means_p,
    block_length,
    decide,
    deflated_sharpe,
    holding_bars,
    paired_excess,
    spent_alpha,
    stationary_block_sums,
)
from quant_assets.lib.evaluation.statistics import ReturnSeries

MIN = 60_000_000_000
CFG = GateConfig(n_boot=199, margin_bps_per_session=0.0, min_bars=100, min_sessions=0)


def _series(r: np.ndarray, step_ns: int = MIN, name: str = "p") -> ReturnSeries:
    return ReturnSeries(
        policy=name,
        ts=np.arange(1, r.size + 1, dtype=np.int64) * step_ns,
        returns=r,
        fold=np.zeros(r.size, np.int64),
        capital=1.0,
        traded_notional=0.0,
    )


RNG = np.random.default_rng(7)
CHAMPION = RNG.normal(0.0, 1e-4, 2000)
NOISE = RNG.normal(0.0, 1e-4, 2000)


def test_decide_clear_edge_over_champion_promotes_with_bounds() -> None:
    d = decide(
        _series(CHAMPION + NOISE + 2e-5), _series(CHAMPION), config=CFG, bars_per_session=390
    )
    assert d.promote, d.reason
    assert d.reference == "champion" and d.n_bars == 2000
    assert d.mean_excess_bps_per_bar == pytest.approx(float(np.mean(NOISE + 2e-5) * 1e4))
    assert 0 < d.lower_bound_bps_per_bar < d.mean_excess_bps_per_bar < d.ci_high_bps_per_bar
    assert d.p_value <= d.alpha_spent and "promote vs champion over 2000 bars" in d.reason
    assert 0.5 < d.deflated_sharpe <= 1.0


def test_decide_no_edge_keeps_as_noise() -> None:
    d = decide(_series(CHAMPION + NOISE), _series(CHAMPION), config=CFG, bars_per_session=390)
    assert not d.promote and d.p_value > d.alpha_spent


def test_decide_identical_policies_keep_nothing_to_decide() -> None:
    d = decide(_series(CHAMPION), _series(CHAMPION), config=CFG, bars_per_session=390)
    assert not d.promote and "no difference" in d.reason


def test_decide_below_min_bars_refuses_to_promote() -> None:
    cfg = GateConfig(n_boot=199, min_bars=300, min_sessions=0)
    d = decide(_series(np.full(200, 1e-3) + NOISE[:200]), None, config=cfg, bars_per_session=390)
    assert not d.promote and "need >= 300" in d.reason and d.reference == "flat"


def test_decide_below_min_sessions_refuses_even_a_clear_edge() -> None:
    # 2,000 bars of a 10-bps/bar edge: overwhelming, but 5.1 sessions < the default 32
    ch = _series(np.full(2000, 1e-3) + NOISE)
    d = decide(ch, None, config=GateConfig(n_boot=199), bars_per_session=390)
    assert GateConfig().min_sessions == 32.0
    assert not d.promote and "need >= 12480" in d.reason and "5.1 sessions" in d.reason
    ok = decide(ch, None, config=GateConfig(n_boot=199), bars_per_session=50)  # 40 sessions
    assert ok.promote, ok.reason


def test_block_length_floor_is_mean_holding_period_capped_at_tenth() -> None:
    iid = RNG.normal(0.0, 1.0, 2000)
    assert block_length(iid) < 3.0  # Politis-White: no autocorrelation, short blocks
    assert block_length(iid, holding=25.0) == 25.0
    assert block_length(iid, holding=900.0) == 200.0  # n / 10


def test_decide_block_covers_longer_holding_of_either_policy() -> None:
    ch = _series(CHAMPION + NOISE)
    ref = ReturnSeries("ref", ch.ts, CHAMPION, ch.fold, 1.0, 0.0, n_trades=50)  # 40 bars/trade
    d = decide(ch, ref, config=CFG, bars_per_session=390)
    assert d.block_length_bars == 40.0
    assert holding_bars(ch) == 1.0  # trades unknown: no floor


def test_stationary_block_sums_one_circular_run_sums_every_value_once() -> None:
    c = RNG.normal(0.0, 1.0, 50)
    s1, s2 = stationary_block_sums(c, 1e12, 5, np.random.default_rng(0))  # never a new block
    np.testing.assert_allclose(s1, c.sum(), atol=1e-9)
    np.testing.assert_allclose(s2, (c * c).sum())


def test_stationary_block_sums_block_one_is_iid_resampling() -> None:
    c = RNG.normal(0.0, 1.0, 400)
    c -= c.mean()
    s1, s2 = stationary_block_sums(c, 1.0, 4000, np.random.default_rng(1))
    # i.i.d. draws: E[sum x*] = 0, Var[sum x*] = n * mean(c^2), E[sum x*^2] = sum c^2
    assert abs(s1.mean()) < 4 * math.sqrt(400 * np.mean(c * c) / 4000)
    assert s1.var() == pytest.approx(400 * np.mean(c * c), rel=0.1)
    assert s2.mean() == pytest.approx((c * c).sum(), rel=0.02)


def test_stationary_block_sums_long_blocks_keep_autocorrelation() -> None:
    # AR(1) 0.8: blocks of 50 keep the dependence, so Var[mean*] is far above i.i.d.'s
    e = RNG.normal(0.0, 1.0, 3000)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, e.size):
        x[t] = 0.8 * x[t - 1] + e[t]
    x -= x.mean()
    iid, _ = stationary_block_sums(x, 1.0, 500, np.random.default_rng(2))
    blocks, _ = stationary_block_sums(x, 50.0, 500, np.random.default_rng(2))
    assert blocks.var() > 5 * iid.var()  # long-run variance (1+0.8)/(1-0.8) = 9x


def test_spent_alpha_sums_to_alpha_over_infinite_sequence() -> None:
    assert spent_alpha(0.05, 1) == pytest.approx(0.05 * 6 / math.pi**2)
    assert sum(spent_alpha(0.05, k) for k in range(1, 100_000)) == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ValueError):
        spent_alpha(0.05, 0)


def test_decide_same_seed_same_p_other_seed_close() -> None:
    ch, ref = _series(CHAMPION + NOISE + 1e-5), _series(CHAMPION)
    a, b = (decide(ch, ref, config=CFG, bars_per_session=390) for _ in range(2))
    c = decide(
        ch,
        ref,
        config=GateConfig(n_boot=199, min_bars=100, min_sessions=0, seed=3),
        bars_per_session=390,
    )
    assert a == b and abs(a.p_value - c.p_value) < 0.1


def test_paired_excess_other_bar_grid_falls_back_to_days() -> None:
    day = 86_400 * 10**9

    def at(ts: list[int], r: float) -> ReturnSeries:
        n = len(ts)
        return ReturnSeries("p", np.array(ts), np.full(n, r), np.zeros(n, np.int64), 1.0, 0.0)

    ch = at([day + 1, day + 2, 2 * day + 1, 2 * day + 2], 0.01)  # two bars a day
    ref = at([day + 5, 2 * day + 5], 0.01)  # one bar a day (another interval)
    d, a, _b, daily = paired_excess(ch, ref)
    assert daily and d.size == 2
    np.testing.assert_allclose(a, 2 * 0.01 * 1e4)  # a day's PnL over capital adds up
    np.testing.assert_allclose(d, (0.02 - 0.01) * 1e4)


def test_deflated_sharpe_falls_with_more_trials() -> None:
    x = NOISE + 1e-5
    one, many = deflated_sharpe(x, 1), deflated_sharpe(x, 100)
    assert 0 < many < one < 1
    assert math.isnan(deflated_sharpe(np.zeros(10), 5))


def test_gate_config_rejects_bad_values() -> None:
    for kw in (
        {"alpha": 0.0},
        {"n_boot": 10},
        {"min_bars": 1},
        {"margin_bps_per_session": -1},
        {"min_sessions": -1},
    ):
        with pytest.raises(ValueError):
            GateConfig(**kw)  # type: ignore[arg-type]


def _episode(curve: list[float], policy: str) -> EpisodeResult:
    n = len(curve) - 1
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    return EpisodeResult(
        episode_id=0,
        split="test",
        start_ts=start,
        end_ts=start + timedelta(minutes=n),
        ep_reward=0.0,
        max_dd=0.0,
        final_pnl=curve[-1] - curve[0],
        sharpe=0.0,
        turnover=0.0,
        cost_commission=0.0,
        cost_spread=0.0,
        cost_impact=0.0,
        cost_total=0.0,
        n_trades=n,
        cost_model_version="v",
        policy=policy,
        equity_curve=np.asarray(curve, dtype=np.float64),
        n_steps=n,
        bar_ts=np.arange(1, n + 1, dtype=np.int64) * MIN,
    )


def test_paired_excess_same_money_after_divergence_is_zero_in_bps_of_capital() -> None:
    # After bar 1 both pay the same money every bar (e.g. two churners in phase paying costs)
    # on different equity: the evidence is PnL over capital, so those bars differ by nothing.
    # On returns over each one's running equity they would differ by -dE (E_a - E_b) / E^2,
    # a term with the sign of the past excess (the churn null's 7.55 % false promotions).
    steps = [-3.0, 1.0, -2.0, -3.0, 2.0] * 20
    a = np.cumsum([1000.0, 200.0, *steps])
    b = np.cumsum([1000.0, -200.0, *steps])
    ch = to_series([_episode(list(a), "a")], 1000.0)
    ref = to_series([_episode(list(b), "b")], 1000.0)
    d, _, _, daily = paired_excess(ch, ref)
    assert not daily and d[0] == pytest.approx(4000.0)  # 400 of 1000 capital, in bps
    assert np.all(d[1:] == 0.0)
    on_equity = (ch.returns - ref.returns)[1:]
    assert np.all(np.abs(on_equity) > 0)  # what the old evidence fed the gate


def test_batch_means_p_hand_computed_example() -> None:
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0])  # 3 batches of 2, the 7th value dropped
    t = 3.5 / (2.0 / math.sqrt(3))  # batch means 1.5, 3.5, 5.5: mean 3.5, sd 2
    assert batch_means_p(d, 0.0, 2.0) == pytest.approx(float(stats.t.sf(t, 2)))
    assert batch_means_p(d, 0.0, 4.0) == 1.0  # one batch: nothing to test


def test_decide_few_blocks_p_is_at_least_batch_means() -> None:
    # 400 bars in blocks of 40 (10 blocks): the bootstrap alone is too narrow there
    d = np.repeat(RNG.normal(0.3e-4, 1e-4, 10), 40) + RNG.normal(0.0, 1e-5, 400)
    cfg = GateConfig(n_boot=199, margin_bps_per_session=0.0, min_bars=2, min_sessions=0)
    few = decide(_series(d), None, config=replace(cfg, block_length=40.0), bars_per_session=390)
    assert few.p_value == pytest.approx(batch_means_p(d * 1e4, 0.0, 40.0))  # > bootstrap p
