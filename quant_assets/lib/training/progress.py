"""An SB3 callback that reports training progress (timesteps done of the total) to a sink.

It calls the sink at most every ``min_interval_s`` (and always at the start and the end), so a
sink that writes somewhere (Dagster's event log, a terminal) costs nothing measurable per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stable_baselines3.common.callbacks import BaseCallback

from quant_assets.lib.monitoring.training_progress import ProgressSink, TrainingProgress


class ProgressCallback(BaseCallback):
    """Reports ``num_timesteps`` (capped at ``total_timesteps``: SB3 finishes the last rollout,
    which may overshoot) to ``sink``: at the start, then at most every ``min_interval_s``, and
    the total at the end."""

    def __init__(
        self,
        sink: ProgressSink,
        total_timesteps: int,
        *,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(verbose=0)
        self.sink = sink
        self.total = int(total_timesteps)
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._started = 0.0
        self._last = 0.0
        self._reported = -1

    def _report(self, timesteps: int) -> None:
        done = min(int(timesteps), self.total)
        if done <= self._reported:
            return  # monotonic: never the same count twice, never backwards
        self._reported = done
        self._last = self.clock()
        self.sink(TrainingProgress(done, self.total, self._last - self._started))

    def _on_training_start(self) -> None:
        self._started = self.clock()
        self._report(self.model.num_timesteps)  # a resumed run starts at its checkpoint

    def _on_step(self) -> bool:
        if self.clock() - self._last >= self.min_interval_s:
            self._report(self.model.num_timesteps)
        return True

    def _on_training_end(self) -> None:
        self._report(self.model.num_timesteps)
