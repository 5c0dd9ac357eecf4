"""Single-asset trading env over :class:`~quant_assets.lib.trading.bars.Bars`.

Timing (no look-ahead): at the end of bar ``t`` the agent sees features built from bars ``<= t``
and its position, and picks a target position. The order fills during bar ``j = t + 1`` at that
bar's reference price (``fill_reference``: the mid at the end of ``j``, its open or its VWAP)
plus half the spread, the parent order's impact and the temporary impact, capped at
``max_participation`` of the bar's volume; the unfilled rest is worked again next bar while the
target stands. Positions are marked to the mid (shifted by the market's impact state), so the
bid/ask bounce of trade prints is never PnL. The reward is the change of marked equity net of
all costs. Implementation shortfall is measured from the decision mark. Sessions come from the
market's calendar: at a session close the position is flattened (cost paid) or held with
financing, per ``overnight``; at the end of an episode it is liquidated at the same fill model.
Formulas and units: ``docs/cost_engine.md``.

Everything that does not depend on the actions is precomputed
(:func:`~quant_assets.lib.trading.market.prepare_market`), so ``step()`` is scalar arithmetic on
Python floats; the vectorised twin in :mod:`quant_assets.lib.trading.vec_env` runs the same model.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.trading.bars import Bars
from quant_assets.lib.trading.market import (
    FEATURE_CLIP,
    N_FEATURES,
    FillReference,
    MarketArrays,
    build_features,
    prepare_market,
)

FloatArray = NDArray[np.float64]
#: Cost components the env reports (currency, summed over the episode).
ENV_COMPONENTS: tuple[str, ...] = (
    "commission",
    "spread",
    "impact",
    "impact_temporary",
    "financing",
)
TWO_THIRDS = 2.0 / 3.0

__all__ = [
    "ENV_COMPONENTS",
    "FEATURE_CLIP",
    "N_FEATURES",
    "MarketArrays",
    "TradingEnv",
    "TradingEnvConfig",
    "build_features",
    "max_drawdown",
    "prepare_market",
]


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
    fill_reference: FillReference = "mid"  # price of bar t+1 an order decided at t fills at
    overnight: Literal["auto", "flatten", "hold"] = "auto"  # auto: per market calendar
    liquidate_at_end: bool = True  # an episode ends flat, paying the exit at the fill model

    @model_validator(mode="after")
    def _levels_in_range(self) -> TradingEnvConfig:
        if not self.discrete_levels or any(abs(x) > 1 for x in self.discrete_levels):
            raise ValueError("discrete_levels must be non-empty and within [-1, 1]")
        return self


def market_for(
    bars: Bars,
    cost_config: CostModelConfig,
    params: CalibratedParams | None,
    config: TradingEnvConfig,
) -> MarketArrays:
    """:func:`prepare_market` with the env config's knobs."""
    return prepare_market(
        bars,
        cost_config,
        params,
        config.window,
        config.norm_window,
        fill_reference=config.fill_reference,
        overnight=config.overnight,
    )


def max_drawdown(equity: FloatArray) -> float:
    """Largest peak-to-trough loss as a fraction of the peak."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak))


class TradingEnv(gym.Env[NDArray[np.float32], Any]):
    """Target-position trading env with next-bar fills and stateful impact; see module doc."""

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
        self.market = m = market_for(bars, self.cost_config, params, self.config)
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
        self._mark = m.mark.tolist()
        self._cap = m.fill_cap.tolist()
        self._force = m.force_flat.tolist()
        # one tuple per bar: a step unpacks its fill bar's inputs with a single index
        self._rows = list(
            zip(
                self._mark,
                m.ref.tolist(),
                m.half_spread.tolist(),
                m.bar_volume.tolist(),
                m.decay.tolist(),
                m.financing.tolist(),
                m.commission_per_share.tolist(),
                m.commission_cap_per_share.tolist(),
                strict=True,
            )
        )
        self._comm_fixed = m.commission_fixed
        self._comm_min = m.commission_min
        self._k_sqrt, self._k_temp, self._beta = m.k_sqrt, m.k_temp, m.temp_beta
        self._perm = m.permanent_fraction
        self._capital = cfg.capital
        self._reward_per_money = cfg.reward_scale / cfg.capital
        self._reset_state(m.first_valid)

    # -- episode state -------------------------------------------------------------------------
    def _episode_length(self, start: int) -> int:
        # the last decision fills in t+1; the exit fills in t+2
        remaining = self.market.n - 2 - start
        if self.config.eval_mode:
            return remaining
        return min(self.config.max_episode_steps, remaining)

    def _reset_state(self, start: int) -> None:
        self._t = start
        self._start = start
        self._ep_len = self._episode_length(start)
        self._steps = 0
        self._shares = 0.0
        self._max_shares = self.config.leverage * self._capital / self._mark[start]
        self._threshold = self.config.trade_threshold * self._max_shares
        self._equity = self._capital
        self._equity_curve = [self._capital]
        self._n_trades = 0
        self._turnover = 0.0
        self._unfilled = 0.0
        self._shortfall = 0.0
        self._last_mark = self._mark[start]
        self._dp = self._dtr = 0.0  # permanent / transient impact displacement (fraction)
        self._side = 0.0  # side of the working parent order (0: none)
        self._px = self._pv = 0.0  # parent shares filled, market volume since the parent began
        self._c_comm = self._c_spread = self._c_imp = self._c_temp = self._c_fin = 0.0

    def _obs(self) -> NDArray[np.float32]:
        obs = self._windows[self._t].copy()
        obs[-1] = self._shares / self._max_shares
        return obs

    def costs_by_component(self) -> dict[str, float]:
        """Episode-to-date costs (currency) by component."""
        values = (self._c_comm, self._c_spread, self._c_imp, self._c_temp, self._c_fin)
        return dict(zip(ENV_COMPONENTS, values, strict=True))

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
            "implementation_shortfall": self._shortfall,
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
        ``options={"start": i}`` forces bar ``i``, ``{"steps": k}`` ends the episode (and
        liquidates) after at most ``k`` steps."""
        super().reset(seed=seed)
        m = self.market
        if options and "start" in options:
            start = int(options["start"])
            if not m.first_valid <= start <= m.n - 3:
                raise ValueError(f"start must be in [{m.first_valid}, {m.n - 3}], got {start}")
        elif self.config.eval_mode:
            start = m.first_valid
        else:
            hi = max(m.first_valid, m.n - 2 - self.config.max_episode_steps)
            start = int(self.np_random.integers(m.first_valid, hi + 1))
        self._reset_state(start)
        if options and "steps" in options:
            self._ep_len = max(1, min(int(options["steps"]), self._ep_len))
        return self._obs(), {"start_index": start}

    def _advance(self, j: int, q: float) -> tuple[float, float]:
        """Move to bar ``j`` filling ``q`` shares in it; returns (net PnL, cost) in currency."""
        mark_j, ref, half, bvol, decay, fin, comm_ps, comm_cap = self._rows[j]
        dp = self._dp
        dtr = self._dtr * decay
        shares = self._shares
        last = self._last_mark
        net = cost = 0.0
        if fin != 0.0 and shares != 0.0:  # holding across a session boundary
            cost = fin * abs(shares) * last
            self._c_fin += cost
            net = -cost
        if q != 0.0:
            aq = abs(q)
            s = 1.0 if q > 0.0 else -1.0
            if s == self._side:
                x0, pv = self._px, self._pv
            else:
                x0 = pv = 0.0
                self._side = s
            x1 = x0 + aq
            pv += bvol
            k = self._k_sqrt
            sq0 = math.sqrt(x0)
            sq1 = math.sqrt(x1)
            avg = k * (TWO_THIRDS * (x1 * sq1 - x0 * sq0) / aq - sq0)
            temp = self._k_temp * (x1 / pv) ** self._beta
            comm = self._comm_fixed + comm_ps * aq
            if comm < self._comm_min:
                comm = self._comm_min
            comm_cap *= aq
            if comm > comm_cap:
                comm = comm_cap
            # paid above the market's own price: the standing displacement plus this child's path
            c_imp = ref * (q * (dp + dtr) + aq * avg)
            c_temp = aq * ref * temp
            c_spr = half * aq
            fill = ref * (1.0 + dp + dtr) + s * (ref * (avg + temp) + half)
            inc = s * k * (sq1 - sq0)
            dp += self._perm * inc
            dtr += (1.0 - self._perm) * inc
            self._px, self._pv = x1, pv
            mark = mark_j * (1.0 + dp + dtr)
            net += shares * (mark - last) - q * (fill - mark) - comm
            self._shortfall += q * (fill - last) + comm
            self._c_comm += comm
            self._c_spread += c_spr
            self._c_imp += c_imp
            self._c_temp += c_temp
            cost += comm + c_spr + c_imp + c_temp
            self._n_trades += 1
            self._turnover += aq * ref
            self._shares = shares + q
        else:
            self._side = 0.0  # nothing to work: the parent order is over
            mark = mark_j * (1.0 + dp + dtr)
            net += shares * (mark - last)
        self._dp, self._dtr, self._last_mark = dp, dtr, mark
        self._equity += net
        return net, cost

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if self._discrete:
            target = self._levels[int(action)]
        else:
            target = action.item() if isinstance(action, np.ndarray) else float(action[0])
            target = 1.0 if target > 1.0 else (-1.0 if target < -1.0 else target)
        j = self._t + 1
        shares = self._shares
        if self._force[j]:
            q = -shares  # session close: flatten, uncapped, at the fill model
        else:
            q = target * self._max_shares - shares
            if q != 0.0 and abs(q) <= self._threshold:
                q = 0.0
            cap = self._cap[j]
            if q > cap:
                self._unfilled += q - cap
                q = cap
            elif q < -cap:
                self._unfilled += -cap - q
                q = -cap
        net, cost = self._advance(j, q)
        self._t = j
        self._steps += 1
        truncated = self._steps >= self._ep_len
        if truncated and self.config.liquidate_at_end and self._shares != 0.0:
            exit_net, exit_cost = self._advance(j + 1, -self._shares)
            net += exit_net
            cost += exit_cost
        self._equity_curve.append(self._equity)
        info: dict[str, Any] = {"cost": cost, "filled_shares": q, "position": self._shares}
        if truncated:
            info.update(self.episode_summary())
        return self._obs(), net * self._reward_per_money, False, truncated, info
