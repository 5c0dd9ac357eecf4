"""Training progress as values: timesteps done of the total, for progress bars and run logs.

Kept apart from the training code (no SB3/torch import) so the CLI can read progress events
cheaply: the training asset writes each :class:`TrainingProgress` as an engine event carrying
:meth:`TrainingProgress.metadata`; ``quant demo`` reads it back with
:meth:`TrainingProgress.from_metadata` and draws the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TIMESTEPS_KEY = "quant/timesteps"
TOTAL_KEY = "quant/total_timesteps"
ELAPSED_KEY = "quant/elapsed_s"


@dataclass(frozen=True)
class TrainingProgress:
    """``timesteps`` of ``total`` environment steps done, ``elapsed_s`` seconds into training."""

    timesteps: int
    total: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return min(self.timesteps / self.total, 1.0) if self.total > 0 else 1.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before any step)."""
        if self.timesteps <= 0 or self.elapsed_s <= 0:
            return None
        return max(self.total - self.timesteps, 0) * self.elapsed_s / self.timesteps

    def message(self) -> str:
        eta = self.eta_s
        left = f", ~{eta:.0f} s left" if eta is not None else ""
        return f"training: {self.timesteps:,} of {self.total:,} timesteps{left}"

    def metadata(self) -> dict[str, int | float]:
        return {
            TIMESTEPS_KEY: self.timesteps,
            TOTAL_KEY: self.total,
            ELAPSED_KEY: round(self.elapsed_s, 3),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> TrainingProgress | None:
        """The event a :meth:`metadata` mapping carries; None for any other mapping."""
        if TIMESTEPS_KEY not in metadata or TOTAL_KEY not in metadata:
            return None
        return cls(
            int(metadata[TIMESTEPS_KEY]),
            int(metadata[TOTAL_KEY]),
            float(metadata.get(ELAPSED_KEY, 0.0)),
        )


ProgressSink = Callable[[TrainingProgress], None]
