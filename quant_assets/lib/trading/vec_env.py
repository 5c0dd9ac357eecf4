"""Native SB3 ``VecEnv``: N trading envs advanced by one compiled loop per step
(:mod:`quant_assets.lib.trading.kernel`).

Semantics match :class:`~quant_assets.lib.trading.env.TradingEnv` exactly (same precomputation,
same cost formulas, same timing); only the per-env Python loop is gone. Several ``Bars`` are
concatenated into one global index space, so env ``i`` may trade ``bars[i % len(bars)]``.
Episodes end by truncation only; on auto-reset the last observation of the finished episode is
in ``infos[i]["terminal_observation"]`` with ``infos[i]["TimeLimit.truncated"] = True`` and the
episode summary (equity curve, drawdown, turnover, trades, costs by component).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.trading import kernel
from quant_assets.lib.trading.bars import Bars
from quant_assets.lib.trading.env import (
    ENV_COMPONENTS,
    FEATURE_CLIP,
    N_FEATURES,
    MarketArrays,
    TradingEnvConfig,
    market_for,
    max_drawdown,
)


class TradingVecEnv(VecEnv):
    """Vectorised :class:`TradingEnv`; see module docstring."""

    def __init__(
        self,
        bars: Bars | Sequence[Bars],
        n_envs: int,
        cost_config: CostModelConfig | None = None,
        params: CalibratedParams | Sequence[CalibratedParams | None] | None = None,
        config: TradingEnvConfig | None = None,
        seed: int | None = None,
    ) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        self.config = cfg = config if config is not None else TradingEnvConfig()
        self.cost_config = cost_config if cost_config is not None else CostModelConfig()
        bars_list = [bars] if isinstance(bars, Bars) else list(bars)
        if not bars_list:
            raise ValueError("bars must not be empty")
        if params is None or isinstance(params, CalibratedParams):
            params_list: list[CalibratedParams | None] = [params] * len(bars_list)
        else:
            params_list = list(params)
            if len(params_list) != len(bars_list):
                raise ValueError("params must match bars one to one")
        self.markets: list[MarketArrays] = [
            market_for(b, self.cost_config, p, cfg)
            for b, p in zip(bars_list, params_list, strict=True)
        ]
        self._concat_markets()
        seg = np.arange(n_envs) % len(self.markets)
        self._seg_offset = self._offsets[seg]
        self._seg_first = self._offsets[seg] + cfg.window
        self._seg_n = np.array([m.n for m in self.markets], dtype=np.int64)[seg]
        # last decision bar: it fills in the next bar and the exit in the one after
        self._seg_end = self._seg_offset + self._seg_n - 2

        self.obs_dim = cfg.window * N_FEATURES + 1
        obs_space = gym.spaces.Box(
            -FEATURE_CLIP, FEATURE_CLIP, shape=(self.obs_dim,), dtype=np.float32
        )
        self._discrete = cfg.action_type == "discrete"
        act_space: gym.spaces.Space[Any]
        if self._discrete:
            act_space = gym.spaces.Discrete(len(cfg.discrete_levels))
        else:
            act_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._levels = np.asarray(cfg.discrete_levels, dtype=np.float64)
        self.render_mode: str | None = None
        super().__init__(n_envs, obs_space, act_space)
        self._rng = np.random.default_rng(seed)
        self._actions: NDArray[Any] = np.zeros(n_envs)
        self._arange = np.arange(n_envs)
        zeros = np.zeros(n_envs)
        self._t = self._seg_first.copy()
        self._start = self._t.copy()
        self._ep_len = np.ones(n_envs, dtype=np.int64)
        self._steps = np.zeros(n_envs, dtype=np.int64)
        self._max_shares = np.ones(n_envs)
        self._threshold = zeros.copy()
        # All per-env money state in one matrix the compiled kernel updates in place; the named
        # attributes are column views of it.
        self._state = np.zeros((n_envs, kernel.N_STATE))
        self._shares = self._state[:, kernel.SHARES]
        self._last = self._state[:, kernel.LAST]
        self._side = self._state[:, kernel.SIDE]
        self._px = self._state[:, kernel.PX]
        self._pv = self._state[:, kernel.PV]
        self._dp = self._state[:, kernel.DP]
        self._dtr = self._state[:, kernel.DTR]
        self._equity = self._state[:, kernel.EQUITY]
        self._shortfall = self._state[:, kernel.SHORTFALL]
        self._turnover = self._state[:, kernel.TURNOVER]
        self._unfilled = self._state[:, kernel.UNFILLED]
        self._equity[:] = cfg.capital
        self._n_trades = np.zeros(n_envs, dtype=np.int64)
        self._costs = np.zeros((n_envs, len(ENV_COMPONENTS)))
        self._curve = np.zeros((n_envs, 1))

    def _concat_markets(self) -> None:
        ms = self.markets
        self._offsets = np.cumsum([0] + [m.n for m in ms[:-1]]).astype(np.int64)
        self._windows = np.concatenate([m.windows for m in ms])
        self._mark = np.concatenate([m.mark for m in ms])
        # One (n_total, kernel.N_BAR) per-bar matrix, columns in kernel order.
        cols = {
            kernel.MARK: [m.mark for m in ms],
            kernel.REF: [m.ref for m in ms],
            kernel.HALF: [m.half_spread for m in ms],
            kernel.CAP: [m.fill_cap for m in ms],
            kernel.BVOL: [m.bar_volume for m in ms],
            kernel.DECAY: [m.decay for m in ms],
            kernel.FORCE: [m.force_flat.astype(np.float64) for m in ms],
            kernel.FIN: [m.financing for m in ms],
            kernel.COMM_PS: [m.commission_per_share for m in ms],
            kernel.COMM_CAP: [m.commission_cap_per_share for m in ms],
            kernel.K_SQRT: [np.full(m.n, m.k_sqrt) for m in ms],
            kernel.K_TEMP: [np.full(m.n, m.k_temp) for m in ms],
            kernel.PERM: [np.full(m.n, m.permanent_fraction) for m in ms],
        }
        self._bar = np.ascontiguousarray(
            np.stack([np.concatenate(cols[c]) for c in range(kernel.N_BAR)], axis=1)
        )
        self._comm_fixed = ms[0].commission_fixed
        self._comm_min = ms[0].commission_min
        self._beta = ms[0].temp_beta

    # -- episode bookkeeping (array ops over the envs being reset) --------------------------------
    def _draw_starts(self, idx: NDArray[np.intp]) -> NDArray[np.int64]:
        first = self._seg_first[idx]
        if self.config.eval_mode:
            return first
        hi = np.maximum(first, self._seg_end[idx] - self.config.max_episode_steps)
        return self._rng.integers(first, hi + 1).astype(np.int64)

    def _reset_envs(self, idx: NDArray[np.intp], starts: NDArray[np.int64]) -> None:
        cfg = self.config
        remaining = self._seg_end[idx] - starts
        self._t[idx] = starts
        self._start[idx] = starts
        self._ep_len[idx] = (
            remaining if cfg.eval_mode else np.minimum(cfg.max_episode_steps, remaining)
        )
        self._steps[idx] = 0
        self._state[idx] = 0.0  # flat, no impact, no working parent, nothing accrued
        mark = self._mark[starts]
        self._max_shares[idx] = cfg.leverage * cfg.capital / mark
        self._last[idx] = mark
        self._threshold[idx] = cfg.trade_threshold * self._max_shares[idx]
        self._equity[idx] = cfg.capital
        self._n_trades[idx] = 0
        self._costs[idx] = 0.0
        need = int(self._ep_len.max()) + 1
        if self._curve.shape[1] < need:
            grown = np.zeros((self.num_envs, need))
            grown[:, : self._curve.shape[1]] = self._curve
            self._curve = grown
        self._curve[idx, 0] = cfg.capital

    def _obs(self) -> NDArray[np.float32]:
        obs = self._windows[self._t]
        obs[:, -1] = self._shares / self._max_shares
        return obs

    def _summary(self, i: int) -> dict[str, Any]:
        curve = self._curve[i, : self._steps[i] + 1].copy()
        costs = dict(zip(ENV_COMPONENTS, self._costs[i].tolist(), strict=True))
        return {
            "equity_curve": curve,
            "total_return": float(curve[-1] / curve[0] - 1.0),
            "max_drawdown": max_drawdown(curve),
            "turnover": float(self._turnover[i] / self.config.capital),
            "n_trades": int(self._n_trades[i]),
            "unfilled_shares": float(self._unfilled[i]),
            "implementation_shortfall": float(self._shortfall[i]),
            "costs": costs,
            "total_cost": sum(costs.values()),
            "start_index": int(self._start[i] - self._seg_offset[i]),
            "n_steps": int(self._steps[i]),
        }

    # -- VecEnv API ----------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        """Reset all envs; honours ``seed()`` and ``set_options([{"start": i}, ...])`` (local
        bar index within the env's Bars), like ``TradingEnv.reset``."""
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
        idx = self._arange
        starts = self._draw_starts(idx)
        for i, opts in enumerate(self._options):
            if opts and "start" in opts:
                local = int(opts["start"])
                n_i = int(self._seg_n[i])
                if not self.config.window <= local <= n_i - 3:
                    raise ValueError(f"env {i}: start must be in [{self.config.window}, {n_i - 3}]")
                starts[i] = self._seg_offset[i] + local
        self._reset_envs(idx, starts)
        self.reset_infos = [
            {"start_index": int(s - o)} for s, o in zip(starts, self._seg_offset, strict=True)
        ]
        self._reset_seeds()
        self._reset_options()
        return self._obs()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        n = self.num_envs
        if self._discrete:
            target = self._levels[self._actions.reshape(n).astype(np.intp)]
        else:
            target = self._actions.reshape(n).astype(np.float64)
            np.minimum(np.maximum(target, -1.0, out=target), 1.0, out=target)
        obs, rewards, dones = kernel.step_envs(
            self._t,
            self._steps,
            self._ep_len,
            target,
            self._max_shares,
            self._threshold,
            self._bar,
            self._state,
            self._costs,
            self._n_trades,
            self._curve,
            self._windows,
            self.config.liquidate_at_end,
            self.config.reward_scale / self.config.capital,
            self._comm_fixed,
            self._comm_min,
            self._beta,
        )
        done_idx = np.flatnonzero(dones)
        infos: list[dict[str, Any]] = [{} for _ in range(n)]
        if done_idx.size:
            for i in done_idx.tolist():
                info = infos[i]
                info.update(self._summary(i))
                info["terminal_observation"] = obs[i].copy()
                info["TimeLimit.truncated"] = True
            self._reset_envs(done_idx, self._draw_starts(done_idx))
            obs[done_idx] = self._windows[self._t[done_idx]]  # fresh episodes start flat
        return obs, rewards, dones, infos

    def close(self) -> None:
        return None

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]
