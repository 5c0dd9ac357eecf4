"""Stable-Baselines3 logging into the metrics warehouse.

SB3 funnels every scalar through ``Logger.dump(step)`` to its output formats, so one extra
``KVWriter`` sees exactly what progress.csv/TensorBoard see, with the same step, without touching
training code.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Protocol

from stable_baselines3.common.logger import KVWriter, Logger, make_output_format

from quant_assets.lib.warehouse.metrics_writer import MetricsWriter

#: Name to put in ``key_excluded`` (``logger.record(key, v, exclude="warehouse")``) to keep a
#: key out of the warehouse.
FORMAT_NAME = "warehouse"


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # numpy / torch 0-d values
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    if callable(item) and (size == 1 or (callable(numel) and numel() == 1)):
        try:
            result = item()
        except (TypeError, ValueError):
            return None
        return float(result) if isinstance(result, numbers.Real) else None
    return None


class ScalarSink(Protocol):
    """Anything that takes one scalar per call: the MetricsWriter, or a test's list."""

    def log(self, run_id: str, name: str, step: int, value: float) -> object: ...


class WarehouseOutputFormat(KVWriter):
    """SB3 output format sending every scalar to a sink (normally a :class:`MetricsWriter`).

    Non-scalars (videos, figures, hparams, text) are ignored; non-finite scalars (the NaN SB3
    logs for explained variance early on) are dropped and counted in ``dropped``, never raised
    into the training loop.
    """

    def __init__(
        self, writer: ScalarSink, run_id: str, *, prefix: str = "", close_writer: bool = False
    ) -> None:
        self.writer = writer
        self.run_id = run_id
        self.prefix = prefix
        self.close_writer = close_writer
        self.dropped = 0

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        for key, value in key_values.items():
            excluded = key_excluded.get(key) or ()
            if FORMAT_NAME in excluded:
                continue
            scalar = _scalar(value)
            if scalar is None:
                continue
            if not math.isfinite(scalar):
                self.dropped += 1
                continue
            self.writer.log(self.run_id, self.prefix + key, int(step), scalar)

    def close(self) -> None:
        finish = getattr(self.writer, "close" if self.close_writer else "flush", None)
        if callable(finish):
            finish()


def configure_logger(
    writer: MetricsWriter,
    run_id: str,
    folder: str | None = None,
    format_strings: Sequence[str] = ("csv",),
    *,
    prefix: str = "",
) -> Logger:
    """An SB3 ``Logger`` with the usual formats in ``folder`` plus the warehouse format; pass it
    to ``model.set_logger(...)``."""
    formats: list[KVWriter | Any] = []
    if folder is not None:
        formats = [make_output_format(f, folder) for f in format_strings]
    formats.append(WarehouseOutputFormat(writer, run_id, prefix=prefix))
    return Logger(folder=folder, output_formats=formats)
