"""Action-independent precomputation of the market simulation, shared by ``TradingEnv`` and
``TradingVecEnv`` so both run the very same fill and impact model (``docs/cost_engine.md``).

Everything is indexed by the **fill bar** ``j``: a decision taken at the end of bar ``t`` fills
during bar ``j = t + 1`` at that bar's reference price, and the position is marked to the mid at
the end of ``j``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.costs.engine import cost_coefficients
from quant_assets.lib.costs.sessions import (
    OvernightPolicy,
    bar_sessions,
    calendar_for,
    default_overnight,
)
from quant_assets.lib.trading.bars import Bars, calibrate_bars

FloatArray = NDArray[np.float64]
N_FEATURES = 3  # normalised log return, log1p(spread bps), volume z-score
FEATURE_CLIP = 10.0
FillReference = Literal["mid", "open", "vwap"]
_YEAR_S = 365.0 * 86_400.0


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
    spread_bps = np.maximum(np.nan_to_num(bars.spread), 0.0) / close * 1e4
    spread_f = np.log1p(spread_bps)
    lv = np.log1p(np.maximum(bars.volume, 0.0))
    v_mean, v_std = _rolling_mean_std(lv, norm_window)
    safe_v = v_std > 1e-12
    vol_z = np.where(safe_v, (lv - v_mean) / np.where(safe_v, v_std, 1.0), 0.0)
    feats = np.stack([ret_z, spread_f, vol_z], axis=1)
    return np.clip(feats, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32)


@dataclass(frozen=True)
class MarketArrays:
    """Per fill bar ``j`` inputs of the simulation, plus the impact constants of the market."""

    n: int
    first_valid: int  # first bar with a full feature window
    features: NDArray[np.float32]  # (n, N_FEATURES), C-contiguous
    windows: NDArray[np.float32]  # (n, window * N_FEATURES + 1): obs rows, position slot = 0
    mark: FloatArray  # mid at the end of bar j (close where no quote is known)
    ref: FloatArray  # fill reference price of bar j (mid, open or vwap)
    half_spread: FloatArray  # currency/share: quoted, else the calibrated median spread
    fill_cap: FloatArray  # shares fillable in bar j (inf: no participation cap)
    bar_volume: FloatArray  # market volume of bar j for the parent's participation (> 0)
    decay: FloatArray  # transient impact kept from bar j-1 to j: 2**(-dt / half_life)
    force_flat: NDArray[np.bool_]  # bar j ends its session and the policy flattens
    financing: FloatArray  # fraction of |notional| charged when holding into bar j
    commission_per_share: FloatArray
    commission_cap_per_share: FloatArray
    commission_fixed: float
    commission_min: float
    k_sqrt: float  # Y*sigma/sqrt(ADV): peak impact fraction per sqrt(share) of a parent
    k_temp: float  # eta*sigma: temporary impact fraction at participation rate 1
    temp_beta: float
    permanent_fraction: float
    overnight: OvernightPolicy
    params: CalibratedParams


def prepare_market(
    bars: Bars,
    cost_config: CostModelConfig,
    params: CalibratedParams | None,
    window: int,
    norm_window: int,
    *,
    fill_reference: FillReference = "mid",
    overnight: Literal["auto", "flatten", "hold"] = "auto",
) -> MarketArrays:
    """Features and per-bar fill inputs. Without ``params`` the cost inputs (spread, vol, ADV)
    are calibrated on ``bars`` themselves — in-sample; pass params from a training window."""
    n = len(bars)
    if n < window + 3:
        raise ValueError(f"need at least window + 3 = {window + 3} bars, got {n}")
    if cost_config.impact_model in ("sqrt", "almgren_chriss"):
        raise ValueError(
            f"impact_model={cost_config.impact_model!r} prices each child order on its own "
            "(cost falls with slicing); the env runs 'propagator' or 'none'"
        )
    if params is None:
        params = calibrate_bars(bars, cost_config)
    mark = np.asarray(bars.marks, dtype=np.float64)
    ref = {"mid": mark, "open": bars.open, "vwap": bars.vwap}[fill_reference]
    ref = np.where(np.isfinite(ref) & (ref > 0), ref, mark).astype(np.float64)
    assert bars.quoted is not None
    calibrated = params.median_spread_bps * 1e-4 * mark
    spread = np.where(bars.quoted & np.isfinite(bars.spread), bars.spread, calibrated)
    working_volume = np.where(bars.volume > 0, bars.volume, 0.0)
    coeffs = cost_coefficients(
        cost_config.model_copy(update={"impact_model": "none", "spread_source": "quoted"}),
        ref,
        daily_vol=params.daily_vol,
        adv=params.adv,
        bar_seconds=bars.bar_seconds,
        spread=spread,
        bar_volume=working_volume,
    )
    # Participation denominator: the bar's volume, or its ADV share when it printed nothing.
    adv_per_bar = params.adv * bars.bar_seconds / params.session_seconds
    bar_volume = np.where(working_volume > 0, working_volume, max(adv_per_bar, 1e-9))
    dt_s = np.r_[0.0, np.diff(bars.ts) / 1e9]
    decay = np.exp2(-dt_s / cost_config.transient_half_life_s)
    cal = calendar_for(bars.symbol, bars.calendar or params.calendar)
    sessions = bar_sessions(bars.ts, cal)
    policy: OvernightPolicy = default_overnight(cal) if overnight == "auto" else overnight
    force_flat = sessions.is_last & (policy == "flatten")
    force_flat[-1] = False  # the end of data is the episode's liquidation, not a session close
    new_session = sessions.is_first & (np.arange(n) > 0)
    financing = np.where(
        new_session & (policy == "hold"), cost_config.financing_rate_annual * dt_s / _YEAR_S, 0.0
    )
    if cost_config.impact_model == "none":
        k_sqrt = k_temp = 0.0
    else:
        k_sqrt = cost_config.sqrt_impact_coef * params.daily_vol / math.sqrt(params.adv)
        k_temp = cost_config.temp_eta * params.daily_vol

    features = np.ascontiguousarray(build_features(bars, norm_window))
    # Observation rows precomputed once (n * (window*F + 1) float32s, ~40 MB per 100k bars) so a
    # step copies one row instead of assembling it.
    win_len = window * N_FEATURES
    windows = np.zeros((n, win_len + 1), dtype=np.float32)
    sliding = np.lib.stride_tricks.sliding_window_view(features.reshape(-1), win_len)
    windows[window - 1 :, :win_len] = sliding[::N_FEATURES]
    windows.setflags(write=False)
    return MarketArrays(
        n=n,
        first_valid=window,
        features=features,
        windows=windows,
        mark=mark,
        ref=ref,
        half_spread=coeffs.half_spread,
        fill_cap=coeffs.fill_cap,
        bar_volume=bar_volume,
        decay=decay,
        force_flat=force_flat,
        financing=financing,
        commission_per_share=coeffs.commission_per_share,
        commission_cap_per_share=coeffs.commission_cap_per_share,
        commission_fixed=coeffs.commission_fixed,
        commission_min=coeffs.commission_min,
        k_sqrt=k_sqrt,
        k_temp=k_temp,
        temp_beta=cost_config.temp_beta,
        permanent_fraction=cost_config.permanent_fraction,
        overnight=policy,
        params=params,
    )
