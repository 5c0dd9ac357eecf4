"""evaluate_policy: shared contiguous windows, baselines, matched null, folds, pooled series."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, timedelta

import numpy as np
import pytest

from quant_assets.lib.evaluation.episodes import (
    EpisodeResult,
    InsufficientEvidenceError,
    TradingIntensity,
    annualised_sharpe,
    episode_windows,
    evaluate_policy,
    to_series,
)
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig

BARS = random_walk_bars(800, seed=21)
ENV = TradingEnvConfig(window=8, norm_window=50)
EPISODES_COLUMNS = [
    "run_id",
    "episode_id",
    "split",
    "start_ts",
    "end_ts",
    "ep_reward",
    "max_dd",
    "final_pnl",
    "sharpe",
    "turnover",
    "cost_commission",
    "cost_spread",
    "cost_impact",
    "cost_total",
    "n_trades",
    "cost_model_version",
]


def _short(obs: np.ndarray) -> np.ndarray:
    return np.array([-1.0], dtype=np.float32)


def _by(results: list[EpisodeResult], policy: str) -> list[EpisodeResult]:
    return [r for r in results if r.policy == policy]


def test_evaluate_policy_all_policies_share_contiguous_utc_windows() -> None:
    results = evaluate_policy(_short, BARS, n_episodes=4, env_config=ENV, policy_name="short")
    assert [r.policy for r in results[::4]] == ["short", "flat", "buy_and_hold", "matched_null"]
    windows = {p: [(r.start_ts, r.end_ts) for r in _by(results, p)] for p in ("short", "flat")}
    assert windows["short"] == windows["flat"]
    w = windows["short"]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(w))  # contiguous
    assert all(s < e and s.tzinfo == UTC for s, e in w)
    assert sum(r.n_steps for r in _by(results, "short")) == len(BARS) - 2 - ENV.window
    first = BARS.ts[ENV.window] // 1000
    assert w[0][0] == w[0][0].fromtimestamp(first / 1e6, tz=UTC)
    assert w[-1][1] - w[0][0] == timedelta(seconds=BARS.bar_seconds * (len(BARS) - 2 - ENV.window))


def test_evaluate_policy_flat_baseline_zero_pnl_zero_costs() -> None:
    for r in _by(evaluate_policy(None, BARS, n_episodes=3, env_config=ENV), "flat"):
        assert (r.final_pnl, r.cost_total, r.n_trades, r.turnover, r.sharpe) == (0, 0, 0, 0, 0)
        np.testing.assert_array_equal(r.equity_curve, ENV.capital)


def test_evaluate_policy_constant_long_callable_equals_buy_and_hold() -> None:
    results = evaluate_policy(
        lambda obs: np.array([1.0], dtype=np.float32),
        BARS,
        n_episodes=3,
        env_config=ENV,
        policy_name="long",
    )
    for a, b in zip(_by(results, "long"), _by(results, "buy_and_hold"), strict=True):
        np.testing.assert_array_equal(a.equity_curve, b.equity_curve)
        assert a.final_pnl == b.final_pnl and a.cost_total == b.cost_total


def test_evaluate_policy_costs_by_component_sum_to_total_and_pnl_net() -> None:
    results = evaluate_policy(
        _short, BARS, n_episodes=2, env_config=ENV, baselines=("matched_null",)
    )
    for r in results:
        assert r.cost_total > 0 and r.n_trades > 0
        parts = r.cost_commission + r.cost_spread + r.cost_impact
        assert parts == pytest.approx(r.cost_total, rel=1e-12)
        assert r.final_pnl == pytest.approx(r.equity_curve[-1] - ENV.capital)
        assert r.ep_reward == pytest.approx(r.final_pnl * ENV.reward_scale / ENV.capital)
        assert 0 <= r.max_dd < 1


def test_evaluate_policy_matched_null_seeded_reproducible() -> None:
    a = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=1), "matched_null")
    b = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=1), "matched_null")
    c = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=2), "matched_null")
    assert [r.final_pnl for r in a] == [r.final_pnl for r in b]
    assert [r.final_pnl for r in a] != [r.final_pnl for r in c]
    assert a[0].final_pnl != a[1].final_pnl  # episodes draw different actions


def test_evaluate_policy_discrete_actions_baselines_use_levels() -> None:
    env = ENV.model_copy(update={"action_type": "discrete", "discrete_levels": (-1.0, 0.0, 1.0)})
    results = evaluate_policy(lambda obs: 2, BARS, n_episodes=2, env_config=env, policy_name="up")
    for a, b in zip(_by(results, "up"), _by(results, "buy_and_hold"), strict=True):
        assert a.final_pnl == b.final_pnl
    assert all(r.n_trades == 0 for r in _by(results, "flat"))


def test_evaluate_policy_discrete_levels_without_flat_raises() -> None:
    env = ENV.model_copy(update={"action_type": "discrete", "discrete_levels": (-1.0, 1.0)})
    with pytest.raises(ValueError, match="flat"):
        evaluate_policy(None, BARS, n_episodes=1, env_config=env, baselines=("flat",))


def test_evaluate_policy_more_episodes_than_decisions_raises() -> None:
    with pytest.raises(ValueError, match="cannot make 900 episodes"):
        evaluate_policy(None, BARS, n_episodes=900, env_config=ENV)


def test_episode_windows_cover_decisions_without_gaps() -> None:
    w = episode_windows(100, 8, 7)
    assert w[0][0] == 8 and sum(n for _, n in w) == 90  # 100 bars - 2 - window
    assert all(a[0] + a[1] == b[0] for a, b in itertools.pairwise(w))


def test_annualised_sharpe_known_returns_matches_formula() -> None:
    r = np.array([0.01, -0.005, 0.002, 0.004])
    equity = 100.0 * np.r_[1.0, np.cumprod(1 + r)]
    expected = r.mean() / r.std(ddof=1) * math.sqrt(97_764)
    assert annualised_sharpe(equity, 97_764) == pytest.approx(expected)
    assert annualised_sharpe(np.full(5, 100.0), 97_764) == 0.0


def test_episode_result_to_row_matches_episodes_table_columns() -> None:
    r = evaluate_policy(None, BARS, n_episodes=1, env_config=ENV, baselines=("flat",))[0]
    row = r.to_row("run-1")
    assert list(row) == EPISODES_COLUMNS
    assert row["run_id"] == "run-1" and row["cost_model_version"] == r.cost_model_version


def _swing(period: int):  # type: ignore[no-untyped-def]
    """Long for ``period`` bars, then short for ``period`` bars, ... (counts its calls)."""
    state = {"t": 0}

    def act(obs: np.ndarray) -> np.ndarray:
        state["t"] += 1
        return np.array([0.5 if (state["t"] // period) % 2 == 0 else -0.5], dtype=np.float32)

    return act


def test_matched_null_copies_turnover_and_holding_period() -> None:
    results = evaluate_policy(
        _swing(20), BARS, n_episodes=2, env_config=ENV, policy_name="swing", baselines=()
    )
    intensity = TradingIntensity.of(results)
    assert intensity.abs_position == pytest.approx(0.5, abs=0.01)
    assert 15 < intensity.holding_bars < 25 and intensity.flat_share == 0.0
    both = evaluate_policy(
        _swing(20), BARS, n_episodes=2, env_config=ENV, policy_name="swing", seed=4
    )
    policy, null = _by(both, "swing"), _by(both, "matched_null")
    changes = [TradingIntensity.of(x).holding_bars for x in (policy, null)]
    turnover = [sum(r.turnover for r in x) for x in (policy, null)]
    assert 0.6 < changes[1] / changes[0] < 1.6
    assert 0.6 < turnover[1] / turnover[0] < 1.6
    assert {abs(t) for r in null for t in r.targets} == {0.5}


def test_evaluate_policy_short_episodes_refused() -> None:
    with pytest.raises(InsufficientEvidenceError, match="below the minimum of 200 bars"):
        evaluate_policy(None, BARS, n_episodes=4, env_config=ENV, min_episode_bars=200)


def test_evaluate_policy_folds_group_consecutive_episodes() -> None:
    results = evaluate_policy(_short, BARS, n_episodes=6, env_config=ENV, folds=3, baselines=())
    assert [r.fold for r in results] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="multiple of folds"):
        evaluate_policy(_short, BARS, n_episodes=5, env_config=ENV, folds=3)


def test_to_series_pools_bars_with_timestamps_and_money() -> None:
    results = _by(evaluate_policy(_short, BARS, n_episodes=3, env_config=ENV, folds=3), "policy")
    s = to_series(results, ENV.capital)
    # decisions run to the third-to-last bar: the last decision's exit fills in the last bar
    assert s.n_bars == len(BARS) - 2 - ENV.window and s.n_episodes == 3
    np.testing.assert_array_equal(s.ts, BARS.ts[ENV.window + 1 : -1])
    assert np.all(np.diff(s.ts) > 0) and set(s.fold.tolist()) == {0, 1, 2}
    first = results[0]
    np.testing.assert_allclose(
        s.returns[: first.n_steps], np.diff(first.equity_curve) / first.equity_curve[:-1]
    )
    assert s.traded_notional == pytest.approx(sum(r.turnover for r in results) * ENV.capital)
    assert s.costs["spread"] == pytest.approx(sum(r.cost_spread for r in results))


def test_evaluate_policy_fold_policies_trade_their_own_fold() -> None:
    def long(_obs: np.ndarray) -> np.ndarray:
        return np.array([1.0], dtype=np.float32)

    res = evaluate_policy(
        long,
        BARS,
        n_episodes=4,
        env_config=ENV,
        baselines=(),
        folds=2,
        policy_name="wf",
        fold_policies=[long, _short],
    )
    assert {r.policy for r in res} == {"wf"}
    assert [r.fold for r in res] == [0, 0, 1, 1]
    assert all(np.all(r.targets == 1.0) for r in res[:2])
    assert all(np.all(r.targets == -1.0) for r in res[2:])
    with pytest.raises(ValueError, match="3 fold policies for 2 folds"):
        evaluate_policy(long, BARS, n_episodes=4, env_config=ENV, folds=2, fold_policies=[long] * 3)
