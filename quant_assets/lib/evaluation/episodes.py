"""Deterministic out-of-sample episodes for a policy and for naive baselines on the same windows.

Episodes: the held-out bars are cut into ``n_episodes`` contiguous, equal-length windows of
decisions (from the first bar with a full feature window to the third-to-last bar: a decision
fills in the next bar, and the episode's closing exit in the one after). Episode ``k`` starts
flat at its first bar and ends flat (liquidated at the env's fill model); features may look back
into the previous window (they are causal and still held-out), so no bars are wasted on warm-up
except the first ``window``. Consecutive episodes share one boundary instant (``end_ts`` of ``k``
= ``start_ts`` of ``k+1``); the exit of ``k`` fills in the first fill bar of ``k+1``.
Windows are identical for every policy, which is what makes the paired comparison in
:mod:`quant_assets.lib.evaluation.promotion` valid.

Baselines: ``flat`` (target 0, never trades: PnL 0 by construction), ``buy_and_hold`` (target
+1 from the first bar, so it pays entry costs once per episode) and ``random`` (uniform target,
seeded by ``(seed, episode_id)``).

Sharpe convention: per-bar simple returns of the episode's equity curve, ``mean / std (ddof=1)``
times ``sqrt(sessions_per_year * session_seconds / bar_seconds)``, both from the market's
calendar as recorded by the cost calibration (252 x 6.5 h for NYSE, 365 x 24 h for a 24/7 market);
0 when the curve is flat. No risk-free rate: overnight holdings pay financing in the env.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from quant_assets.lib.costs.calibration import CalibratedParams
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.trading.bars import Bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

FloatArray = NDArray[np.float64]
Obs = NDArray[np.float32]
BASELINES: tuple[str, ...] = ("flat", "buy_and_hold", "random")
TRADING_DAYS_PER_YEAR = 252


@runtime_checkable
class Policy(Protocol):
    """Anything with a name and an SB3-style ``predict`` (e.g. ``LoadedPolicy``)."""

    name: str

    def predict(self, obs: Obs, deterministic: bool = True) -> Any: ...


@dataclass(frozen=True, eq=False)
class EpisodeResult:
    """One evaluated episode; the fields up to ``cost_model_version`` are the warehouse
    ``episodes`` columns (money in the quote currency, ``max_dd``/``turnover`` as fractions)."""

    episode_id: int
    split: str
    start_ts: datetime
    end_ts: datetime
    ep_reward: float
    max_dd: float
    final_pnl: float  # equity change over the episode, net of all costs
    sharpe: float
    turnover: float  # traded notional / capital
    cost_commission: float
    cost_spread: float
    cost_impact: float  # sqrt + temporary + permanent impact
    cost_total: float
    n_trades: int
    cost_model_version: str
    policy: str
    equity_curve: FloatArray = field(repr=False)
    n_steps: int = 0

    def to_row(self, run_id: str) -> dict[str, Any]:
        """Row of the warehouse ``episodes`` table (no policy/curve: not columns there)."""
        return {
            "run_id": run_id,
            "episode_id": self.episode_id,
            "split": self.split,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "ep_reward": self.ep_reward,
            "max_dd": self.max_dd,
            "final_pnl": self.final_pnl,
            "sharpe": self.sharpe,
            "turnover": self.turnover,
            "cost_commission": self.cost_commission,
            "cost_spread": self.cost_spread,
            "cost_impact": self.cost_impact,
            "cost_total": self.cost_total,
            "n_trades": self.n_trades,
            "cost_model_version": self.cost_model_version,
        }


def annualised_sharpe(
    equity: FloatArray,
    bar_seconds: float,
    session_seconds: float,
    sessions_per_year: float = TRADING_DAYS_PER_YEAR,
) -> float:
    """Sharpe of per-bar equity returns, annualised as described in the module docstring."""
    if equity.size < 3:
        return 0.0
    r = np.diff(equity) / equity[:-1]
    sd = float(np.std(r, ddof=1))
    if not sd > 1e-15:
        return 0.0
    return float(np.mean(r) / sd * math.sqrt(sessions_per_year * session_seconds / bar_seconds))


def _ts(bars: Bars, i: int) -> datetime:
    ns = int(bars.ts[i])
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000
    )


def episode_windows(n_bars: int, window: int, n_episodes: int) -> list[tuple[int, int]]:
    """``(start bar, n_steps)`` of ``n_episodes`` contiguous windows over the decision bars."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    total = n_bars - 2 - window  # the last decision's exit fills in the last bar
    if total < n_episodes:
        raise ValueError(
            f"{n_bars} bars give {max(total, 0)} decisions after the {window}-bar feature window;"
            f" cannot make {n_episodes} episodes"
        )
    edges = np.linspace(window, n_bars - 2, n_episodes + 1).round().astype(int).tolist()
    return [(edges[k], edges[k + 1] - edges[k]) for k in range(n_episodes)]


def run_episode(
    env: TradingEnv,
    act: Callable[[Obs], Any],
    *,
    start: int | None,
    n_steps: int | None,
    episode_id: int,
    split: str,
    policy: str,
    cost_model_version: str,
) -> EpisodeResult:
    """Run ``act`` from bar ``start`` for ``n_steps`` (None: the env's own episode) and score it."""
    options: dict[str, int] = {} if start is None else {"start": start}
    if n_steps is not None:
        options["steps"] = n_steps  # the env truncates (and liquidates) exactly there
    obs, info = env.reset(options=options or None)
    first = int(info["start_index"])
    ep_reward = 0.0
    steps = 0
    while n_steps is None or steps < n_steps:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        ep_reward += float(reward)
        steps += 1
        if terminated or truncated:
            break
    s = env.episode_summary()
    costs: dict[str, float] = s["costs"]
    curve = np.asarray(s["equity_curve"], dtype=np.float64)
    return EpisodeResult(
        episode_id=episode_id,
        split=split,
        start_ts=_ts(env.bars, first),
        end_ts=_ts(env.bars, first + steps),
        ep_reward=ep_reward,
        max_dd=float(s["max_drawdown"]),
        final_pnl=float(curve[-1] - curve[0]),
        sharpe=annualised_sharpe(
            curve, env.bars.bar_seconds, env.params.session_seconds, env.params.sessions_per_year
        ),
        turnover=float(s["turnover"]),
        cost_commission=float(costs["commission"]),
        cost_spread=float(costs["spread"]),
        cost_impact=float(sum(v for k, v in costs.items() if k.startswith("impact"))),
        cost_total=float(s["total_cost"]),
        n_trades=int(s["n_trades"]),
        cost_model_version=cost_model_version,
        policy=policy,
        equity_curve=curve,
        n_steps=steps,
    )


def policy_actor(policy: Policy | Callable[[Obs], Any]) -> Callable[[Obs], Any]:
    """Deterministic obs -> action function; accepts SB3 models too (drops their state)."""
    predict = getattr(policy, "predict", None)
    if predict is None:
        return policy  # type: ignore[return-value]

    def act(obs: Obs) -> Any:
        out = predict(obs, deterministic=True)
        return out[0] if isinstance(out, tuple) else out

    return act


def _baseline_actor(
    name: str, config: TradingEnvConfig, seed: int, episode_id: int
) -> Callable[[Obs], Any]:
    discrete = config.action_type == "discrete"
    levels = list(config.discrete_levels)

    def const(target: float) -> Callable[[Obs], Any]:
        if not discrete:
            action = np.array([target], dtype=np.float32)
            return lambda _obs: action
        if target not in levels:
            raise ValueError(f"baseline {name!r} needs {target} in discrete_levels {levels}")
        index = levels.index(target)
        return lambda _obs: index

    if name == "flat":
        return const(0.0)
    if name == "buy_and_hold":
        return const(1.0)
    if name == "random":
        rng = np.random.default_rng([seed, episode_id])
        if discrete:
            return lambda _obs: int(rng.integers(len(levels)))
        return lambda _obs: rng.uniform(-1.0, 1.0, 1).astype(np.float32)
    raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")


def evaluate_policy(
    policy: Policy | Callable[[Obs], Any] | None,
    bars: Bars,
    *,
    n_episodes: int,
    cost_config: CostModelConfig | None = None,
    cost_params: CalibratedParams | None = None,
    env_config: TradingEnvConfig | None = None,
    seed: int = 0,
    split: str = "test",
    policy_name: str | None = None,
    baselines: Sequence[str] = BASELINES,
) -> list[EpisodeResult]:
    """Policy episodes (skipped when ``policy`` is None) then each baseline on the same windows.

    Pass ``cost_params`` calibrated on the training window: without them the env calibrates on
    the held-out bars themselves (in-sample cost inputs).
    """
    cfg = env_config if env_config is not None else TradingEnvConfig()
    windows = episode_windows(len(bars), cfg.window, n_episodes)
    longest = max(n for _, n in windows)
    env = TradingEnv(
        bars,
        cost_config,
        cost_params,
        config=cfg.model_copy(update={"eval_mode": False, "max_episode_steps": longest}),
    )
    version = env.params.version
    actors: list[tuple[str, Callable[[int], Callable[[Obs], Any]]]] = []
    if policy is not None:
        name = policy_name or getattr(policy, "name", None) or "policy"
        actor = policy_actor(policy)
        actors.append((name, lambda _k: actor))
    for b in baselines:
        actors.append((b, lambda k, b=b: _baseline_actor(b, cfg, seed, k)))  # type: ignore[misc]
    results: list[EpisodeResult] = []
    for name, make in actors:
        for k, (start, steps) in enumerate(windows):
            results.append(
                run_episode(
                    env,
                    make(k),
                    start=start,
                    n_steps=steps,
                    episode_id=k,
                    split=split,
                    policy=name,
                    cost_model_version=version,
                )
            )
    return results


# --------------------------------------------------------------------------- PNG chart

_PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (127, 127, 127),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (255, 127, 14),
    (23, 190, 207),
    (140, 86, 75),
)
# 3x5 bitmap glyphs (rows top to bottom, 3 bits each) for legend labels and axis values.
_GLYPHS: dict[str, str] = {
    "0": "7,5,5,5,7",
    "1": "2,6,2,2,7",
    "2": "7,1,7,4,7",
    "3": "7,1,3,1,7",
    "4": "5,5,7,1,1",
    "5": "7,4,7,1,7",
    "6": "7,4,7,5,7",
    "7": "7,1,1,2,2",
    "8": "7,5,7,5,7",
    "9": "7,5,7,1,7",
    "a": "2,5,7,5,5",
    "b": "6,5,6,5,6",
    "c": "3,4,4,4,3",
    "d": "6,5,5,5,6",
    "e": "7,4,6,4,7",
    "f": "7,4,6,4,4",
    "g": "3,4,5,5,3",
    "h": "5,5,7,5,5",
    "i": "7,2,2,2,7",
    "j": "1,1,1,5,2",
    "k": "5,5,6,5,5",
    "l": "4,4,4,4,7",
    "m": "5,7,7,5,5",
    "n": "6,5,5,5,5",
    "o": "2,5,5,5,2",
    "p": "6,5,6,4,4",
    "q": "2,5,5,6,3",
    "r": "6,5,6,5,5",
    "s": "3,4,2,1,6",
    "t": "7,2,2,2,2",
    "u": "5,5,5,5,7",
    "v": "5,5,5,5,2",
    "w": "5,5,7,7,5",
    "x": "5,5,2,5,5",
    "y": "5,5,2,2,2",
    "z": "7,1,2,4,7",
    "-": "0,0,7,0,0",
    "_": "0,0,0,0,7",
    ".": "0,0,0,0,2",
    "+": "0,2,7,2,0",
    " ": "0,0,0,0,0",
}


def _text(img: NDArray[np.uint8], x: int, y: int, text: str, color: Any, scale: int = 2) -> None:
    h, w, _ = img.shape
    for ch in text.lower():
        rows = [int(r) for r in _GLYPHS.get(ch, "7,5,5,5,7").split(",")]
        for ry, bits in enumerate(rows):
            for rx in range(3):
                if bits >> (2 - rx) & 1:
                    y0, x0 = y + ry * scale, x + rx * scale
                    if 0 <= y0 < h - scale and 0 <= x0 < w - scale:
                        img[y0 : y0 + scale, x0 : x0 + scale] = color
        x += 4 * scale


def _png(img: NDArray[np.uint8]) -> bytes:
    """Minimal RGB PNG encoder (filter 0 rows, zlib), no imaging library needed."""
    h, w, _ = img.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * 3)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def _chained_curves(results: Sequence[EpisodeResult]) -> dict[str, FloatArray]:
    """Per policy: episodes in ``episode_id`` order chained into one growth-of-1 curve."""
    by_policy: dict[str, list[EpisodeResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    out: dict[str, FloatArray] = {}
    for name, eps in by_policy.items():
        level = 1.0
        parts = [np.array([1.0])]
        for ep in sorted(eps, key=lambda e: e.episode_id):
            c = ep.equity_curve / ep.equity_curve[0]
            parts.append(level * c[1:])
            level *= float(c[-1])
        out[name] = np.concatenate(parts)
    return out


def _polyline(
    img: NDArray[np.uint8],
    curve: FloatArray,
    lo: float,
    hi: float,
    box: tuple[int, int, int, int],
    color: tuple[int, int, int],
) -> None:
    """Draw ``curve`` across the box: per pixel column the span of its values, joined to the
    previous column's last value so steep moves stay connected."""
    left, top, pw, ph = box
    x = np.linspace(0.0, pw - 1.0, curve.size)
    if curve.size < pw:  # sparse: sample one point per column
        xi = np.arange(pw, dtype=np.float64)
        curve, x = np.interp(xi, x, curve), xi
    cols = np.round(x).astype(np.intp)
    ys = top + ph - 1 - np.round((curve - lo) / (hi - lo) * (ph - 1)).astype(np.intp)
    col_lo = np.full(pw, np.iinfo(np.intp).max)
    col_hi = np.full(pw, -1)
    np.minimum.at(col_lo, cols, ys)
    np.maximum.at(col_hi, cols, ys)
    last = np.full(pw, -1)
    ends = np.flatnonzero(np.r_[cols[1:] != cols[:-1], True])  # last point of each column
    last[cols[ends]] = ys[ends]
    prev = -1
    for c in range(pw):
        if col_hi[c] < 0:
            continue
        a, b = int(col_lo[c]), int(col_hi[c])
        if prev >= 0:
            a, b = min(a, prev), max(b, prev)
        img[a : b + 1, left + c] = color
        prev = int(last[c])


def equity_curve_png(
    results: Sequence[EpisodeResult], *, width: int = 640, height: int = 320
) -> bytes:
    """Growth-of-1 equity per policy (episodes chained in time order) as a small PNG.

    Rendered with numpy + zlib (matplotlib is not a dependency); the legend lists policies in
    their order of first appearance, the axis labels are the y range.
    """
    curves = _chained_curves(results)
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 8, width - 8, 40, height - 24
    pw, ph = right - left, bottom - top
    if curves:
        lo = min(float(c.min()) for c in curves.values())
        hi = max(float(c.max()) for c in curves.values())
        pad = max((hi - lo) * 0.05, 1e-6)
        lo, hi = lo - pad, hi + pad
        img[top:bottom, left] = img[bottom - 1, left:right] = (0, 0, 0)
        one = bottom - 1 - round((1.0 - lo) / (hi - lo) * (ph - 1))
        if top <= one < bottom:
            img[one, left:right:4] = (180, 180, 180)
        for k, (name, curve) in enumerate(curves.items()):
            color = _PALETTE[k % len(_PALETTE)]
            _polyline(img, curve, lo, hi, (left, top, pw, ph), color)
            lx = left + 4 + (k % 4) * (pw // 4)
            ly = 4 + (k // 4) * 14
            img[ly + 2 : ly + 8, lx : lx + 10] = color
            _text(img, lx + 14, ly, name[:16], color)
        _text(img, left + 2, bottom + 6, f"{lo:.4f}", (0, 0, 0))
        label = f"{hi:.4f}"
        _text(img, right - len(label) * 8, bottom + 6, label, (0, 0, 0))
    return _png(img)
