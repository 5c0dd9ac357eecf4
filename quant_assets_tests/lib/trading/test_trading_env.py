"""TradingEnv: API conformance, no look-ahead, next-bar fills at the mid, parent-order impact,
session policy and liquidation, each on hand-computed cases."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from quant_assets.lib.costs import CostModelConfig
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

BARS = random_walk_bars(1500, seed=1)
SMALL = TradingEnvConfig(window=8, norm_window=50, max_episode_steps=100)


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
def test_env_checkers_pass(action_type: str) -> None:
    cfg = SMALL.model_copy(update={"action_type": action_type})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no spec" render-mode notice
        gym_check_env(TradingEnv(BARS, config=cfg), skip_render_check=True)
    sb3_check_env(TradingEnv(BARS, config=cfg), warn=False)


def test_env_observation_at_t_ignores_data_after_t() -> None:
    t = 700
    arrays = {
        f.name: getattr(BARS, f.name).copy()
        for f in dataclasses.fields(BARS)
        if isinstance(getattr(BARS, f.name), np.ndarray)
    }
    rng = np.random.default_rng(0)
    for name in ("open", "high", "low", "close", "vwap", "spread", "volume"):
        arrays[name][t + 1 :] *= rng.uniform(0.5, 2.0, len(BARS) - t - 1)
    perturbed = dataclasses.replace(BARS, **arrays)
    a = TradingEnv(BARS, config=SMALL)
    b = TradingEnv(perturbed, config=SMALL, params=a.params)
    oa, _ = a.reset(options={"start": t - 20})
    ob, _ = b.reset(options={"start": t - 20})
    assert np.array_equal(oa, ob)
    actions = rng.uniform(-1, 1, (20, 1)).astype(np.float32)
    for act in actions:  # same actions up to t: every observation up to t identical
        oa = a.step(act)[0]
        ob = b.step(act)[0]
        assert np.array_equal(oa, ob)
    assert a._t == t  # the last compared observation is the one at bar t
    assert not np.array_equal(a.step(actions[0])[0], b.step(actions[0])[0])  # test can fail


FREE = CostModelConfig(
    impact_model="none",
    commission_per_share=0.0,
    commission_min_per_trade=0.0,
    max_participation=None,
)


def test_env_order_decided_at_t_fills_at_mid_t1_plus_half_spread_marked_to_mid() -> None:
    env = TradingEnv(BARS, cost_config=FREE, config=SMALL)
    s = 300
    env.reset(options={"start": s})
    q = 0.5 * 1e6 / BARS.mid[s]  # half of capital at the decision mid
    _, r1, _, _, info = env.step(np.array([0.5], dtype=np.float32))
    half1 = 0.5 * BARS.spread[s + 1]
    assert info["filled_shares"] == pytest.approx(q)
    assert info["cost"] == pytest.approx(q * half1)
    # bought at mid[t+1] + half: marked to mid[t+1], the reward is minus the half spread
    assert r1 == pytest.approx(-q * half1 / 1e6 * 1e4)
    _, r2, _, _, _ = env.step(np.array([0.5], dtype=np.float32))
    assert r2 == pytest.approx(q * (BARS.mid[s + 2] - BARS.mid[s + 1]) / 1e6 * 1e4)
    # shortfall from the decision mid: the move from mid[t] to mid[t+1] plus the half spread
    assert env.episode_summary()["implementation_shortfall"] == pytest.approx(
        q * (BARS.mid[s + 1] + half1 - BARS.mid[s])
    )


@pytest.mark.parametrize("reference", ["open", "vwap"])
def test_env_fill_reference_open_or_vwap_of_next_bar(reference: str) -> None:
    cfg = SMALL.model_copy(update={"fill_reference": reference})
    env = TradingEnv(BARS, cost_config=FREE, config=cfg)
    s = 300
    env.reset(options={"start": s})
    _, r1, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    q = info["filled_shares"]
    ref = getattr(BARS, reference)[s + 1]
    fill = ref + 0.5 * BARS.spread[s + 1]
    assert r1 == pytest.approx(-q * (fill - BARS.mid[s + 1]) / 1e6 * 1e4)


def test_env_parent_order_pays_square_root_path_and_temporary_impact() -> None:
    """Two children of one parent (the participation cap splits it), hand-computed."""
    cost = CostModelConfig(commission_per_share=0.0, commission_min_per_trade=0.0)
    env = TradingEnv(BARS, cost_config=cost, config=SMALL)
    p = env.params
    s = 400
    env.reset(options={"start": s})
    _, r1, _, _, i1 = env.step(np.array([1.0], dtype=np.float32))
    _, r2, _, _, i2 = env.step(np.array([1.0], dtype=np.float32))
    q1, q2 = i1["filled_shares"], i2["filled_shares"]
    v1, v2 = BARS.volume[s + 1], BARS.volume[s + 2]
    assert q1 == pytest.approx(0.025 * v1) and q2 == pytest.approx(0.025 * v2)
    k = p.daily_vol / np.sqrt(p.adv)  # Y = 1
    m1, m2 = BARS.mid[s + 1], BARS.mid[s + 2]
    h1, h2 = 0.5 * BARS.spread[s + 1], 0.5 * BARS.spread[s + 2]
    x1 = q1 + q2
    imp1 = k * m1 * 2 / 3 * q1**1.5
    decay = 2 ** (-60 / 1800)
    d1 = k * np.sqrt(q1)
    d_before2 = d1 * (2 / 3 + decay / 3)  # 2/3 permanent, 1/3 transient decaying 30 min
    path2 = k * m2 * (2 / 3 * (x1**1.5 - q1**1.5) - q2 * np.sqrt(q1))
    imp2 = q2 * m2 * d_before2 + path2  # the standing displacement is paid too
    eta = 0.142 * p.daily_vol
    tmp1 = eta * m1 * q1 * (q1 / v1) ** 0.6
    tmp2 = eta * m2 * q2 * (x1 / (v1 + v2)) ** 0.6  # the parent's participation rate
    costs = env.costs_by_component()
    assert costs["impact"] == pytest.approx(imp1 + imp2)
    assert costs["impact_temporary"] == pytest.approx(tmp1 + tmp2)
    d2 = d_before2 + k * (np.sqrt(x1) - np.sqrt(q1))
    mark1 = m1 * (1 + d1)
    fill2 = m2 * (1 + d_before2) + (path2 + tmp2) / q2 + h2
    mark2 = m2 * (1 + d2)
    assert r1 == pytest.approx((q1 * mark1 - q1 * (m1 + h1) - imp1 - tmp1) / 100)
    assert r2 == pytest.approx((q1 * (mark2 - mark1) - q2 * (fill2 - mark2)) / 100)


def test_env_parent_cost_does_not_fall_with_slicing() -> None:
    """One 1,000-share child vs 20 children of 50: the impact paid is the same square-root law
    on the whole order (no decay here), not 1/sqrt(20) of it as with per-child impact."""
    flat = random_walk_bars(200, seed=4, daily_vol=1e-9)
    cost = CostModelConfig(
        commission_per_share=0.0,
        commission_min_per_trade=0.0,
        max_participation=None,
        transient_half_life_s=1e12,
    )
    cfg = SMALL.model_copy(update={"capital": 1_000 * float(flat.mid[50])})
    paid = []
    for n_children in (1, 20):
        env = TradingEnv(flat, cost_config=cost, config=cfg)
        env.reset(options={"start": 50})
        for k in range(n_children):
            env.step(np.array([(k + 1) / n_children], dtype=np.float32))
        paid.append(env.costs_by_component()["impact"])
    p = env.params
    law = 2 / 3 * p.daily_vol / np.sqrt(p.adv) * 1_000**1.5 * flat.mid[51]
    assert paid[0] == pytest.approx(law, rel=1e-3)
    assert paid[1] == pytest.approx(law, rel=1e-3)


def test_env_bounce_policy_earns_nothing_on_mid_random_walk() -> None:
    """Contrarian on the last trade-price return: on trade prints it would recover part of the
    spread; filled next bar and marked to the mid it earns nothing before costs."""
    bars = random_walk_bars(20_000, seed=5, daily_vol=0.005, spread_bps=20.0, bounce=True)
    cfg = SMALL.model_copy(update={"eval_mode": True, "overnight": "hold"})
    cost = FREE.model_copy(update={"financing_rate_annual": 0.0})
    env = TradingEnv(bars, cost_config=cost, config=cfg)
    env.reset()
    close = bars.close
    positions, truncated, info = [], False, {}
    while not truncated:
        t = env._t
        target = -1.0 if close[t] > close[t - 1] else 1.0
        _, _, _, truncated, info = env.step(np.array([target], dtype=np.float32))
        positions.append(target)
    spread_paid = info["costs"]["spread"]
    gross = info["equity_curve"][-1] - 1e6 + info["total_cost"]
    assert spread_paid > 0 and abs(gross) <= 0.01 * spread_paid
    # the same positions valued on trade prints (same-bar fills at the close) earn a lot
    t0 = cfg.window
    pos = np.asarray(positions) * 1e6 / bars.mid[t0]
    phantom = float(np.sum(pos * np.diff(close[t0 : t0 + len(pos) + 1])))
    assert phantom > 0.1 * spread_paid


def test_env_episode_end_liquidates_at_the_fill_model() -> None:
    env = TradingEnv(BARS, cost_config=FREE, config=SMALL)
    s = 200
    env.reset(options={"start": s})
    q = 1e6 / BARS.mid[s]
    info: dict[str, object] = {}
    for _ in range(SMALL.max_episode_steps):
        _, _, _, truncated, info = env.step(np.array([1.0], dtype=np.float32))
    assert truncated and info["position"] == 0.0
    end = s + SMALL.max_episode_steps + 1  # the exit decided at the last bar fills in the next
    h_in, h_out = 0.5 * BARS.spread[s + 1], 0.5 * BARS.spread[end]
    expected = q * (BARS.mid[end] - BARS.mid[s + 1]) - q * (h_in + h_out)
    curve = info["equity_curve"]
    assert isinstance(curve, np.ndarray)
    assert curve[-1] - 1e6 == pytest.approx(expected)


def _two_sessions(symbol: str = "SYN") -> tuple[np.ndarray, object]:
    """390 one-minute bars of 2024-01-02 and of 2024-01-03 (NYSE regular hours)."""
    day = 86_400 * 10**9
    idx = np.arange(780)
    ts = 1_704_205_800_000_000_000 + (idx // 390) * day + (idx % 390 + 1) * 60 * 10**9
    bars = dataclasses.replace(random_walk_bars(780, seed=6, symbol=symbol), ts=ts)
    return ts, bars


@pytest.mark.parametrize("overnight", ["flatten", "hold"])
def test_env_session_close_flattens_or_holds_with_financing(overnight: str) -> None:
    ts, bars = _two_sessions()
    cfg = SMALL.model_copy(update={"overnight": overnight, "max_episode_steps": 40})
    cost = FREE.model_copy(update={"financing_rate_annual": 0.05})
    env = TradingEnv(bars, cost_config=cost, config=cfg)  # type: ignore[arg-type]
    env.reset(options={"start": 370})
    positions = [env.step(np.array([1.0], dtype=np.float32))[4]["position"] for _ in range(21)]
    at_close = positions[18]  # decided at bar 388, filled in bar 389: the session's last
    if overnight == "flatten":
        assert at_close == 0.0 and positions[19] > 0  # re-entered in the next session
        assert env.costs_by_component()["financing"] == 0.0
    else:
        assert at_close > 0
        held_s = (ts[390] - ts[389]) / 1e9
        expected = 0.05 * at_close * bars.mid[389] * held_s / (365 * 86_400)  # type: ignore[attr-defined]
        assert env.costs_by_component()["financing"] == pytest.approx(expected)


def test_env_participation_cap_clips_position() -> None:
    env = TradingEnv(BARS, cost_config=CostModelConfig(max_participation=0.01), config=SMALL)
    env.reset(options={"start": 200})
    obs, _, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert info["filled_shares"] == pytest.approx(0.01 * BARS.volume[201])
    assert obs[-1] == pytest.approx(info["filled_shares"] / env._max_shares, rel=1e-6)


def test_env_eval_mode_full_pass_reports_episode_stats() -> None:
    cfg = SMALL.model_copy(update={"eval_mode": True})
    env = TradingEnv(BARS, config=cfg)
    env.reset(seed=123)
    steps, truncated, info = 0, False, {}
    while not truncated:
        _, _, terminated, truncated, info = env.step(np.array([np.sin(steps / 10)], np.float32))
        steps += 1
        assert not terminated
    assert steps == len(BARS) - 2 - cfg.window  # the exit of the last decision needs a bar
    assert info["equity_curve"].shape == (steps + 1,)
    assert 0.0 <= info["max_drawdown"] < 1.0 and info["n_trades"] > 0 and info["turnover"] > 0
    assert (
        info["total_cost"] == pytest.approx(sum(info["costs"].values())) and info["total_cost"] > 0
    )


def test_env_same_seed_same_start_different_seed_differs() -> None:
    env = TradingEnv(BARS, config=SMALL)
    starts = {env.reset(seed=s)[1]["start_index"] for s in (1, 1)}
    assert len(starts) == 1
    assert len({env.reset(seed=s)[1]["start_index"] for s in range(10)}) > 1


def test_env_discrete_action_maps_to_levels() -> None:
    cfg = SMALL.model_copy(update={"action_type": "discrete"})
    env = TradingEnv(BARS, cost_config=CostModelConfig(max_participation=None), config=cfg)
    env.reset(options={"start": 100})
    obs = env.step(0)[0]
    assert obs[-1] == pytest.approx(-1.0)


def test_env_too_few_bars_raises() -> None:
    with pytest.raises(ValueError, match="need at least"):
        TradingEnv(random_walk_bars(5), config=SMALL)


def test_env_episode_pnl_is_frictionless_pnl_minus_reported_costs() -> None:
    """Ending flat, equity = trading at the unimpacted mids minus the reported costs."""
    cfg = SMALL.model_copy(update={"overnight": "hold"})
    cost = CostModelConfig(financing_rate_annual=0.0, max_participation=0.01)
    env = TradingEnv(BARS, cost_config=cost, config=cfg)
    env.reset(options={"start": 500})
    rng = np.random.default_rng(3)
    mid, frictionless, truncated, info = BARS.mid, 0.0, False, {}
    t = 500
    while not truncated:
        before = env._shares
        _, _, _, truncated, info = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        frictionless -= (env._shares - before) * mid[t + 1] if not truncated else 0.0
        t += 1
    # the last step fills in t and exits in t + 1
    q_last = info["filled_shares"]
    frictionless -= q_last * mid[t] + (-(before + q_last)) * mid[t + 1]
    assert info["position"] == 0.0 and info["costs"]["impact"] > 0
    assert info["equity_curve"][-1] - 1e6 == pytest.approx(frictionless - info["total_cost"])


def test_env_without_quotes_pays_the_calibrated_spread() -> None:
    unquoted = dataclasses.replace(BARS, quoted=np.zeros(len(BARS), dtype=bool))
    params = TradingEnv(BARS, config=SMALL).params.model_copy(update={"median_spread_bps": 7.0})
    env = TradingEnv(unquoted, cost_config=FREE, params=params, config=SMALL)
    env.reset(options={"start": 300})
    _, _, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert info["cost"] == pytest.approx(info["filled_shares"] * 0.5 * 7e-4 * BARS.mid[301])
