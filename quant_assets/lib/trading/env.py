"""Single-asset trading env over :class:`~quant_assets.lib.trading.bars.Bars`.

Timing (no look-ahead): at the close of bar ``t`` the agent sees features built from bars
``<= t`` and its current position, and picks a target position. The trade is priced against the
arrival price ``close[t]`` (implementation shortfall), charged the full cost engine (commission,
half-spread, impact) and filled up to ``max_participation`` of the volume of bar ``t+1`` — the bar
the order works in. The reward is the position's PnL over bar ``t+1`` net of those costs.

Everything that does not depend on the actions (features, per-bar cost coefficients) is
precomputed at construction, so ``step()`` is scalar arithmetic on Python floats; the vectorised
twin in :mod:`quant_assets.lib.trading.vec_env` shares the same precomputation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.costs.engine import COMPONENTS, cost_coefficients
from quant_assets.lib.trading.bars import Bars, calibrate_bars

FloatArray = NDArray[np.float64]
N_FEATURES = 3  # normalised log return, log1p(spread bps), volume z-score
FEATURE_CLIP = 10.0


class TradingEnvConfig(BaseModel):
    """Env knobs; frozen so a trained policy can record exactly what it was trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(default=32, ge=1)  # bars of features in each observation
    norm_window: int = Field(default=390, ge=2)  # trailing bars for return/volume normalisation
    max_episode_steps: int = Field(default=1024, ge=1)  # ignored in eval_mode (full pass)
    action_type: Literal["continuous", "discrete"] = "continuous"
    discrete_levels: tuple[float, ...] = (-1.0, 0.0, 1.0)
    capital: float = Field(default=1_000_000.0, gt=0)
    leverage: float = Field(default=1.0, gt=0)  # |target| = 1 means leverage * capital of notional
    trade_threshold: float = Field(
        default=0.0, ge=0, le=1
    )  # ignore target changes below this fraction
    reward_scale: float = Field(default=1e4, gt=0)  # reward in basis points of capital by default
    eval_mode: bool = False  # deterministic full pass from the first valid bar

    @model_validator(mode="after")
    def _levels_in_range(self) -> TradingEnvConfig:
        if not self.discrete_levels or any(abs(x) > 1 for x in self.discrete_levels):
            raise ValueError("discrete_levels must be non-empty and within [-1, 1]")
        return self


def _rolling_mean_std(x: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Trailing mean/std over the last ``window`` values up to and including each index."""
    n = x.shape[0]
    c1 = np.r_[0.0, np.cumsum(x)]
    c2 = np.r_[0.0, np.cumsum(x * x)]
    hi = np.arange(1, n + 1)
    lo = np.maximum(hi - window, 0)
    cnt = (hi - lo).astype(np.float64)
    mean = (c1[hi] - c1[lo]) / cnt
    var = np.maximum((c2[hi] - c2[lo]) / cnt - mean * mean, 0.0)
    return mean, np.sqrt(var)


def build_features(bars: Bars, norm_window: int) -> NDArray[np.float32]:
    """(n, N_FEATURES) causal features: row ``t`` uses bars ``<= t`` only."""
    close = bars.close
    r = np.r_[0.0, np.diff(np.log(close))]
    _, r_std = _rolling_mean_std(r, norm_window)
    safe = r_std > 1e-12
    ret_z = np.where(safe, r / np.where(safe, r_std, 1.0), 0.0)
    spread_bps = np.maximum(bars.spread, 0.0) / close * 1e4
    spread_f = np.log1p(spread_bps)
    lv = np.log1p(np.maximum(bars.volume, 0.0))
    v_mean, v_std = _rolling_mean_std(lv, norm_window)
    safe_v = v_std > 1e-12
    vol_z = np.where(safe_v, (lv - v_mean) / np.where(safe_v, v_std, 1.0), 0.0)
    feats = np.stack([ret_z, spread_f, vol_z], axis=1)
    return np.clip(feats, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32)


@dataclass(frozen=True)
class MarketArrays:
    """Action-independent precomputation for one :class:`Bars` (shared by env and vec env)."""

    n: int
    first_valid: int  # first bar with a full feature window
    features: NDArray[np.float32]  # (n, N_FEATURES), C-contiguous
    windows: NDArray[np.float32]  # (n, window * N_FEATURES + 1): obs rows, position slot = 0
    close: FloatArray
    # cost coefficients for a trade decided at bar t (index t); see costs.engine.CostCoefficients
    commission_per_share: FloatArray
    commission_cap_per_share: FloatArray
    half_spread: FloatArray
    sqrt_coef: FloatArray
    temp_coef: FloatArray
    perm_coef: FloatArray
    fill_cap: FloatArray
    commission_fixed: float
    commission_min: float
    params: CalibratedParams


def prepare_market(
    bars: Bars,
    cost_config: CostModelConfig,
    params: CalibratedParams | None,
    config: TradingEnvConfig,
) -> MarketArrays:
    """Features and per-bar cost coefficients. Without ``params`` the cost inputs (vol, ADV) are
    calibrated on ``bars`` themselves — in-sample; pass params from a training window instead."""
    n = len(bars)
    if n < config.window + 2:
        raise ValueError(f"need at least window + 2 = {config.window + 2} bars, got {n}")
    if params is None:
        params = calibrate_bars(bars, cost_config)
    # The order decided at bar t works during bar t+1: that bar's volume caps the fill.
    working_volume = np.r_[bars.volume[1:], 0.0]
    coeffs = cost_coefficients(
        cost_config,
        bars.close,
        daily_vol=params.daily_vol,
        adv=max(params.adv, 1.0),
        bar_seconds=bars.bar_seconds,
        spread=bars.spread,
        bar_volume=working_volume,
    )
    features = np.ascontiguousarray(build_features(bars, config.norm_window))
    # Observation rows precomputed once (n * (window*F + 1) float32s, ~40 MB per 100k bars) so a
    # step copies one row instead of assembling it.
    win_len = config.window * N_FEATURES
    windows = np.zeros((n, win_len + 1), dtype=np.float32)
    sliding = np.lib.stride_tricks.sliding_window_view(features.reshape(-1), win_len)
    windows[config.window - 1 :, :win_len] = sliding[::N_FEATURES]
    windows.setflags(write=False)
    return MarketArrays(
        n=n,
        first_valid=config.window,
        features=features,
        windows=windows,
        close=bars.close.astype(np.float64),
        commission_per_share=coeffs.commission_per_share,
        commission_cap_per_share=coeffs.commission_cap_per_share,
        half_spread=coeffs.half_spread,
        sqrt_coef=coeffs.sqrt_coef,
        temp_coef=coeffs.temp_coef,
        perm_coef=coeffs.perm_coef,
        fill_cap=coeffs.fill_cap,
        commission_fixed=coeffs.commission_fixed,
        commission_min=coeffs.commission_min,
        params=params,
    )


def max_drawdown(equity: FloatArray) -> float:
    """Largest peak-to-trough loss as a fraction of the peak."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


class TradingEnv(gym.Env[NDArray[np.float32], Any]):
    """Target-position trading env with full transaction costs; see module docstring."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        bars: Bars,
        cost_config: CostModelConfig | None = None,
        params: CalibratedParams | None = None,
        config: TradingEnvConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.config = config if config is not None else TradingEnvConfig()
        self.cost_config = cost_config if cost_config is not None else CostModelConfig()
        self.render_mode = render_mode
        self.bars = bars
        self.market = m = prepare_market(bars, self.cost_config, params, self.config)
        self.params = m.params
        cfg = self.config

        self.obs_dim = cfg.window * N_FEATURES + 1
        self.observation_space = gym.spaces.Box(
            -FEATURE_CLIP, FEATURE_CLIP, shape=(self.obs_dim,), dtype=np.float32
        )
        self._discrete = cfg.action_type == "discrete"
        self.action_space: gym.spaces.Space[Any]
        if self._discrete:
            self.action_space = gym.spaces.Discrete(len(cfg.discrete_levels))
        else:
            self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._levels = [float(x) for x in cfg.discrete_levels]

        # Python-float lists: scalar indexing of a list is ~5x cheaper than of an ndarray.
        self._windows = m.windows
        self._close = m.close.tolist()
        self._comm_ps = m.commission_per_share.tolist()
        self._comm_cap = m.commission_cap_per_share.tolist()
        self._half_spread = m.half_spread.tolist()
        self._sqrt = m.sqrt_coef.tolist()
        self._temp = m.temp_coef.tolist()
        self._perm = m.perm_coef.tolist()
        self._fill_cap = m.fill_cap.tolist()
        self._comm_fixed = m.commission_fixed
        self._comm_min = m.commission_min
        self._capital = cfg.capital
        self._reward_per_money = cfg.reward_scale / cfg.capital
        self._reset_state(m.first_valid)

    # -- episode state -------------------------------------------------------------------------
    def _episode_length(self, start: int) -> int:
        remaining = self.market.n - 1 - start  # the last step needs close[t + 1]
        if self.config.eval_mode:
            return remaining
        return min(self.config.max_episode_steps, remaining)

    def _reset_state(self, start: int) -> None:
        self._t = start
        self._start = start
        self._ep_len = self._episode_length(start)
        self._steps = 0
        self._shares = 0.0
        self._max_shares = self.config.leverage * self._capital / self._close[start]
        self._threshold = self.config.trade_threshold * self._max_shares
        self._equity = self._capital
        self._equity_curve = [self._capital]
        self._n_trades = 0
        self._turnover = 0.0
        self._unfilled = 0.0
        self._c_comm = self._c_spread = self._c_sqrt = self._c_temp = self._c_perm = 0.0

    def _obs(self) -> NDArray[np.float32]:
        obs = self._windows[self._t].copy()
        obs[-1] = self._shares / self._max_shares
        return obs

    def costs_by_component(self) -> dict[str, float]:
        """Episode-to-date costs (currency) by component."""
        return dict(
            zip(
                COMPONENTS,
                (self._c_comm, self._c_spread, self._c_sqrt, self._c_temp, self._c_perm),
                strict=True,
            )
        )

    def episode_summary(self) -> dict[str, Any]:
        """Equity curve and risk/turnover statistics of the episode so far."""
        curve = np.asarray(self._equity_curve)
        costs = self.costs_by_component()
        return {
            "equity_curve": curve,
            "total_return": float(curve[-1] / curve[0] - 1.0),
            "max_drawdown": max_drawdown(curve),
            "turnover": self._turnover / self._capital,  # traded notional / capital
            "n_trades": self._n_trades,
            "unfilled_shares": self._unfilled,
            "costs": costs,
            "total_cost": sum(costs.values()),
            "start_index": self._start,
            "n_steps": self._steps,
        }

    # -- gym API -------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Random start (seeded) in training, the first valid bar in eval mode;
        ``options={"start": i}`` forces bar ``i``."""
        super().reset(seed=seed)
        m = self.market
        if options and "start" in options:
            start = int(options["start"])
            if not m.first_valid <= start <= m.n - 2:
                raise ValueError(f"start must be in [{m.first_valid}, {m.n - 2}], got {start}")
        elif self.config.eval_mode:
            start = m.first_valid
        else:
            hi = max(m.first_valid, m.n - 1 - self.config.max_episode_steps)
            start = int(self.np_random.integers(m.first_valid, hi + 1))
        self._reset_state(start)
        return self._obs(), {"start_index": start}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if self._discrete:
            target = self._levels[int(action)]
        else:
            target = action.item() if isinstance(action, np.ndarray) else float(action[0])
            target = 1.0 if target > 1.0 else (-1.0 if target < -1.0 else target)
        t = self._t
        shares = self._shares
        q = target * self._max_shares - shares
        if q != 0.0 and abs(q) <= self._threshold:
            q = 0.0
        cap = self._fill_cap[t]
        if q > cap:
            self._unfilled += q - cap
            q = cap
        elif q < -cap:
            self._unfilled += -cap - q
            q = -cap
        cost = 0.0
        price = self._close[t]
        if q != 0.0:
            aq = abs(q)
            comm = self._comm_fixed + self._comm_ps[t] * aq
            if comm < self._comm_min:
                comm = self._comm_min
            comm_cap = self._comm_cap[t] * aq
            if comm > comm_cap:
                comm = comm_cap
            spread = self._half_spread[t] * aq
            q2 = aq * aq
            isqrt = self._sqrt[t] * aq * math.sqrt(aq)
            itemp = self._temp[t] * q2
            iperm = self._perm[t] * q2
            self._c_comm += comm
            self._c_spread += spread
            self._c_sqrt += isqrt
            self._c_temp += itemp
            self._c_perm += iperm
            cost = comm + spread + isqrt + itemp + iperm
            self._n_trades += 1
            self._turnover += aq * price
            shares += q
            self._shares = shares
        net = shares * (self._close[t + 1] - price) - cost
        self._equity += net
        self._equity_curve.append(self._equity)
        self._t = t + 1
        self._steps += 1
        truncated = self._steps >= self._ep_len
        info: dict[str, Any] = {"cost": cost, "filled_shares": q, "position": shares}
        if truncated:
            info.update(self.episode_summary())
        return self._obs(), net * self._reward_per_money, False, truncated, info
