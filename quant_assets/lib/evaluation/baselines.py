"""Naive baselines evaluated on the challenger's windows: ``flat`` (target 0, never trades),
``buy_and_hold`` (target +1 from the first bar, entry costs once per episode) and
``matched_null``: random-sign targets of the challenger's mean absolute size (flat as often as
the challenger), each held for a geometric duration with the challenger's mean holding period,
seeded by ``(seed, episode_id)`` — "is the policy better than trading as much, at random?"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from quant_assets.lib.trading.env import TradingEnvConfig

if TYPE_CHECKING:
    from quant_assets.lib.evaluation.episodes import EpisodeResult

Obs = NDArray[np.float32]
BASELINES: tuple[str, ...] = ("flat", "buy_and_hold", "matched_null")


@dataclass(frozen=True)
class TradingIntensity:
    """What the matched null copies from the challenger's targets: mean |target| while invested
    (fraction of max position), mean holding period (bars per target change) and share of bars
    with a flat target. Targets, not fills: the env's participation cap applies to both alike."""

    abs_position: float
    holding_bars: float
    flat_share: float

    @classmethod
    def of(cls, results: Sequence[EpisodeResult]) -> TradingIntensity:
        pos = np.concatenate([r.targets for r in results]) if results else np.zeros(0)
        if pos.size == 0:
            return cls(0.0, 1.0, 1.0)
        invested = np.abs(pos) > 1e-9
        changes = sum(int(np.count_nonzero(np.diff(np.r_[0.0, r.targets]) != 0)) for r in results)
        return cls(
            abs_position=float(np.mean(np.abs(pos[invested]))) if invested.any() else 0.0,
            holding_bars=float(pos.size / max(changes, 1)),
            flat_share=float(1.0 - invested.mean()),
        )


def baseline_actor(
    name: str,
    config: TradingEnvConfig,
    seed: int,
    episode_id: int,
    intensity: TradingIntensity | None = None,
) -> Callable[[Obs], Any]:
    discrete = config.action_type == "discrete"
    levels = list(config.discrete_levels)

    def action_of(target: float) -> Any:
        if not discrete:
            return np.array([target], dtype=np.float32)
        return int(np.argmin([abs(x - target) for x in levels]))

    def const(target: float) -> Callable[[Obs], Any]:
        if discrete and target not in levels:
            raise ValueError(f"baseline {name!r} needs {target} in discrete_levels {levels}")
        action = action_of(target)
        return lambda _obs: action

    if name == "flat":
        return const(0.0)
    if name == "buy_and_hold":
        return const(1.0)
    if name == "matched_null":
        m = intensity if intensity is not None else TradingIntensity(1.0, 1.0, 0.0)
        rng = np.random.default_rng([seed, episode_id])
        p_change = 1.0 / max(m.holding_bars, 1.0)
        state: dict[str, Any] = {"target": None, "action": action_of(0.0)}

        def draw() -> float:
            if rng.random() < m.flat_share:
                return 0.0
            return m.abs_position * (1.0 if rng.random() < 0.5 else -1.0)

        def act(_obs: Obs) -> Any:
            if state["target"] is None or rng.random() < p_change:
                target = draw()
                for _ in range(8):  # a change of target is a trade: never redraw the same
                    if target != state["target"]:
                        break
                    target = draw()
                state["target"], state["action"] = target, action_of(target)
            return state["action"]

        return act
    raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
