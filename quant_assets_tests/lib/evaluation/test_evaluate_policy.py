"""evaluate_policy: shared contiguous windows, baselines, seeded randomness, metrics, PNG."""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from datetime import UTC, timedelta

import numpy as np
import pytest

from quant_assets.lib.evaluation.episodes import (
    EpisodeResult,
    annualised_sharpe,
    episode_windows,
    equity_curve_png,
    evaluate_policy,
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
    assert [r.policy for r in results[::4]] == ["short", "flat", "buy_and_hold", "random"]
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
    results = evaluate_policy(_short, BARS, n_episodes=2, env_config=ENV, baselines=("random",))
    for r in results:
        assert r.cost_total > 0 and r.n_trades > 0
        parts = r.cost_commission + r.cost_spread + r.cost_impact
        assert parts == pytest.approx(r.cost_total, rel=1e-12)
        assert r.final_pnl == pytest.approx(r.equity_curve[-1] - ENV.capital)
        assert r.ep_reward == pytest.approx(r.final_pnl * ENV.reward_scale / ENV.capital)
        assert 0 <= r.max_dd < 1


def test_evaluate_policy_random_baseline_seeded_reproducible() -> None:
    a = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=1), "random")
    b = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=1), "random")
    c = _by(evaluate_policy(None, BARS, n_episodes=2, env_config=ENV, seed=2), "random")
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
    expected = r.mean() / r.std(ddof=1) * math.sqrt(252 * 23_400 / 60)
    assert annualised_sharpe(equity, 60.0, 23_400.0) == pytest.approx(expected)
    assert annualised_sharpe(np.full(5, 100.0), 60.0, 23_400.0) == 0.0


def test_episode_result_to_row_matches_episodes_table_columns() -> None:
    r = evaluate_policy(None, BARS, n_episodes=1, env_config=ENV, baselines=("flat",))[0]
    row = r.to_row("run-1")
    assert list(row) == EPISODES_COLUMNS
    assert row["run_id"] == "run-1" and row["cost_model_version"] == r.cost_model_version


def _decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h = size
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, w * 3 + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 3)


def test_equity_curve_png_decodes_with_one_colour_per_policy() -> None:
    results = evaluate_policy(_short, BARS, n_episodes=3, env_config=ENV, policy_name="short")
    data = equity_curve_png(results, width=300, height=150)
    img = _decode_png(data)
    assert img.shape == (150, 300, 3)
    assert len(data) < 20_000
    colours = {tuple(int(v) for v in px) for px in img.reshape(-1, 3)}
    for colour in [(31, 119, 180), (127, 127, 127), (44, 160, 44), (214, 39, 40)]:
        assert colour in colours
    body = img[40:-24, 8:-8]  # plot area: the first curve spans it (later curves may overdraw)
    assert np.mean(np.any(np.all(body == (31, 119, 180), axis=2), axis=0)) > 0.9


def test_equity_curve_png_no_results_blank_png() -> None:
    img = _decode_png(equity_curve_png([], width=50, height=40))
    assert (img == 255).all()
