"""GPU and metrics-writer samples written beside a training's own metrics.

A daemon thread samples, every ``interval_s``, each GPU's utilisation (%), memory in use (MiB)
and power draw (W) through NVML (``nvidia-ml-py``), and the metrics writer's backlog (spool
segments, rows pending), and logs them as ``system/...`` metrics of the training run — the same
table, run id and time axis as ``train/*``, so a dashboard puts them side by side. Without NVML or
without a GPU the sampler says "no GPU: <why>" and samples only the writer; it never fails the
training (a sampling error stops the sampler, not the run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

LogFn = Callable[[str, int, float], Any]  # (name, step, value)


@dataclass(frozen=True)
class GpuSample:
    index: int
    utilization_pct: float
    memory_used_mib: float
    power_w: float


@dataclass
class Nvml:
    """NVML handles; ``status`` says why there are none."""

    handles: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    status: str = "no GPU"
    _nvml: Any = None

    @classmethod
    def open(cls) -> Nvml:
        try:
            import pynvml  # nvidia-ml-py
        except ImportError:
            return cls(status="no GPU: nvidia-ml-py not installed")
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            return cls(status=f"no GPU: NVML unavailable ({exc})")
        count = pynvml.nvmlDeviceGetCount()
        if count == 0:
            pynvml.nvmlShutdown()
            return cls(status="no GPU: NVML sees 0 devices")
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        names = [str(pynvml.nvmlDeviceGetName(h)) for h in handles]
        return cls(handles, names, f"{count} GPU(s): {', '.join(names)}", pynvml)

    def sample(self) -> list[GpuSample]:
        out = []
        for i, handle in enumerate(self.handles):
            util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            mem = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                power = self._nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # mW -> W
            except Exception:  # not supported on some boards
                power = float("nan")
            out.append(GpuSample(i, float(util.gpu), mem.used / 2**20, power))
        return out

    def close(self) -> None:
        if self._nvml is not None:
            self._nvml.nvmlShutdown()
            self._nvml = None


class SystemSampler:
    """Context manager: ``with SystemSampler(log, writer_stats=writer.stats) as s: train()``."""

    def __init__(
        self,
        log: LogFn,
        *,
        interval_s: float = 10.0,
        writer_stats: Callable[[], Any] | None = None,
        nvml: Nvml | None = None,
        start_delay_s: float = 0.0,
    ) -> None:
        """``start_delay_s``: wait before the first sample (a run's metrics are refused until
        its training_runs row exists)."""
        self._log = log
        self._interval = interval_s
        self._writer_stats = writer_stats
        self._nvml = nvml
        self._start_delay = start_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0
        self.error: str | None = None
        self.peak_utilization_pct = 0.0

    @property
    def status(self) -> str:
        return self._nvml.status if self._nvml is not None else "not started"

    def sample_once(self) -> None:
        step = self.samples
        if self._nvml is not None:
            for s in self._nvml.sample():
                prefix = f"system/gpu{s.index}"
                self._log(f"{prefix}/utilization_pct", step, s.utilization_pct)
                self._log(f"{prefix}/memory_used_mib", step, s.memory_used_mib)
                if s.power_w == s.power_w:  # not NaN
                    self._log(f"{prefix}/power_w", step, s.power_w)
                self.peak_utilization_pct = max(self.peak_utilization_pct, s.utilization_pct)
        if self._writer_stats is not None:
            stats = self._writer_stats()
            self._log("system/writer/spool_segments", step, float(stats.spool_segments))
            self._log("system/writer/pending_rows", step, float(stats.pending_rows))
        self.samples += 1

    def _run(self) -> None:
        if self._start_delay and self._stop.wait(self._start_delay):
            return
        try:
            while True:
                self.sample_once()
                if self._stop.wait(self._interval):
                    break
        except Exception as exc:  # sampling must never take the training down
            self.error = f"{type(exc).__name__}: {exc}"

    def __enter__(self) -> SystemSampler:
        if self._nvml is None:
            self._nvml = Nvml.open()
        self._thread = threading.Thread(target=self._run, name="system-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._nvml is not None:
            self._nvml.close()
