"""Compiled (numba) step of :class:`~quant_assets.lib.trading.vec_env.TradingVecEnv`.

Why compiled: the market model (next-bar fills, parent-order square-root path, transient decay,
temporary impact, session flattening) is ~60 array operations per step in numpy, each paying
numpy's per-call overhead at a few hundred envs; one loop over the envs does the same arithmetic
in a few microseconds. The formulas are those of ``TradingEnv._advance`` line for line (the
parity test compares the two), documented in ``docs/cost_engine.md``.

State matrix columns (one row per env) and per-bar matrix columns are named below.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numpy.typing import NDArray

# state columns
SHARES, LAST, SIDE, PX, PV, DP, DTR, EQUITY, SHORTFALL, TURNOVER, UNFILLED = range(11)
N_STATE = 11
# per-bar columns (fill bar j)
MARK, REF, HALF, CAP, BVOL, DECAY, FORCE, FIN, COMM_PS, COMM_CAP, K_SQRT, K_TEMP, PERM = range(13)
N_BAR = 13
TWO_THIRDS = 2.0 / 3.0


@nb.njit(cache=True)
def _advance(
    i: int,
    row: NDArray[np.float64],
    q: float,
    state: NDArray[np.float64],
    costs: NDArray[np.float64],
    n_trades: NDArray[np.int64],
    comm_fixed: float,
    comm_min: float,
    beta: float,
) -> float:
    """Env ``i`` moves to the bar ``row`` filling ``q`` shares there; returns its net PnL."""
    st = state[i]
    dp = st[DP]
    dtr = st[DTR] * row[DECAY]
    shares = st[SHARES]
    last = st[LAST]
    net = 0.0
    fin = row[FIN]
    if fin != 0.0 and shares != 0.0:
        fin *= abs(shares) * last
        costs[i, 4] += fin
        net = -fin
    if q != 0.0:
        aq = abs(q)
        s = 1.0 if q > 0.0 else -1.0
        if s == st[SIDE]:
            x0 = st[PX]
            pv = st[PV]
        else:
            x0 = 0.0
            pv = 0.0
            st[SIDE] = s
        x1 = x0 + aq
        pv += row[BVOL]
        ref = row[REF]
        k = row[K_SQRT]
        sq0 = math.sqrt(x0)
        sq1 = math.sqrt(x1)
        avg = k * (TWO_THIRDS * (x1 * sq1 - x0 * sq0) / aq - sq0)
        temp = row[K_TEMP] * (x1 / pv) ** beta
        half = row[HALF]
        comm = comm_fixed + row[COMM_PS] * aq
        if comm < comm_min:
            comm = comm_min
        comm_cap = row[COMM_CAP] * aq
        if comm > comm_cap:
            comm = comm_cap
        c_imp = ref * (q * (dp + dtr) + aq * avg)
        c_temp = aq * ref * temp
        c_spr = half * aq
        fill = ref * (1.0 + dp + dtr) + s * (ref * (avg + temp) + half)
        inc = s * k * (sq1 - sq0)
        perm = row[PERM]
        dp += perm * inc
        dtr += (1.0 - perm) * inc
        st[PX] = x1
        st[PV] = pv
        mark = row[MARK] * (1.0 + dp + dtr)
        net += shares * (mark - last) - q * (fill - mark) - comm
        st[SHORTFALL] += q * (fill - last) + comm
        costs[i, 0] += comm
        costs[i, 1] += c_spr
        costs[i, 2] += c_imp
        costs[i, 3] += c_temp
        n_trades[i] += 1
        st[TURNOVER] += aq * ref
        st[SHARES] = shares + q
    else:
        st[SIDE] = 0.0
        mark = row[MARK] * (1.0 + dp + dtr)
        net += shares * (mark - last)
    st[DP] = dp
    st[DTR] = dtr
    st[LAST] = mark
    st[EQUITY] += net
    return net


@nb.njit(cache=True)
def step(
    rows: NDArray[np.int64],
    target: NDArray[np.float64],
    max_shares: NDArray[np.float64],
    threshold: NDArray[np.float64],
    bar: NDArray[np.float64],
    state: NDArray[np.float64],
    costs: NDArray[np.float64],
    n_trades: NDArray[np.int64],
    comm_fixed: float,
    comm_min: float,
    beta: float,
) -> NDArray[np.float64]:
    """One decision per env (targets in [-1, 1]) filled in the env's bar ``rows[i]``."""
    n = rows.shape[0]
    net = np.empty(n)
    for i in range(n):
        row = bar[rows[i]]
        shares = state[i, SHARES]
        if row[FORCE] != 0.0:
            q = -shares  # session close: flatten, uncapped
        else:
            q = target[i] * max_shares[i] - shares
            if q != 0.0 and abs(q) <= threshold[i]:
                q = 0.0
            cap = row[CAP]
            if q > cap:
                state[i, UNFILLED] += q - cap
                q = cap
            elif q < -cap:
                state[i, UNFILLED] += -cap - q
                q = -cap
        net[i] = _advance(i, row, q, state, costs, n_trades, comm_fixed, comm_min, beta)
    return net


@nb.njit(cache=True)
def step_envs(
    t: NDArray[np.int64],
    steps: NDArray[np.int64],
    ep_len: NDArray[np.int64],
    target: NDArray[np.float64],
    max_shares: NDArray[np.float64],
    threshold: NDArray[np.float64],
    bar: NDArray[np.float64],
    state: NDArray[np.float64],
    costs: NDArray[np.float64],
    n_trades: NDArray[np.int64],
    curve: NDArray[np.float64],
    windows: NDArray[np.float32],
    liquidate_at_end: bool,
    reward_per_money: float,
    comm_fixed: float,
    comm_min: float,
    beta: float,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_]]:
    """A whole ``VecEnv.step`` in one pass: fill every env's decision in its next bar (as
    :func:`step`), liquidate the envs whose episode ends (as :func:`liquidate`), advance the
    clocks and equity curves, and gather the next observations; returns (obs, rewards, dones).

    One compiled call instead of a dozen numpy calls per step: at a few hundred envs the numpy
    per-call overhead, not the arithmetic, was the cost."""
    n = t.shape[0]
    net = step(
        t + 1,
        target,
        max_shares,
        threshold,
        bar,
        state,
        costs,
        n_trades,
        comm_fixed,
        comm_min,
        beta,
    )
    rewards = np.empty(n, dtype=np.float32)
    dones = np.empty(n, dtype=np.bool_)
    width = windows.shape[1]
    obs = np.empty((n, width), dtype=np.float32)
    for i in range(n):
        j = t[i] + 1
        t[i] = j
        steps[i] += 1
        done = steps[i] >= ep_len[i]
        dones[i] = done
        if done and liquidate_at_end:
            q = -state[i, SHARES]
            net[i] += _advance(i, bar[j + 1], q, state, costs, n_trades, comm_fixed, comm_min, beta)
        curve[i, steps[i]] = state[i, EQUITY]
        rewards[i] = np.float32(net[i] * reward_per_money)
        obs[i] = windows[j]
        obs[i, width - 1] = np.float32(state[i, SHARES] / max_shares[i])
    return obs, rewards, dones


@nb.njit(cache=True)
def liquidate(
    envs: NDArray[np.int64],
    rows: NDArray[np.int64],
    bar: NDArray[np.float64],
    state: NDArray[np.float64],
    costs: NDArray[np.float64],
    n_trades: NDArray[np.int64],
    comm_fixed: float,
    comm_min: float,
    beta: float,
) -> NDArray[np.float64]:
    """Close the positions of ``envs`` in bars ``rows`` at the fill model, uncapped."""
    net = np.empty(envs.shape[0])
    for k in range(envs.shape[0]):
        i = envs[k]
        q = -state[i, SHARES]
        net[k] = _advance(i, bar[rows[k]], q, state, costs, n_trades, comm_fixed, comm_min, beta)
    return net
