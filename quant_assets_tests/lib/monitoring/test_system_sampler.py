"""The sampler on this machine (no GPU: it must say so and keep sampling the writer), and on a
real NVML where one exists (skipped otherwise)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quant_assets.lib.monitoring.system_sampler import Nvml, SystemSampler
from quant_assets.lib.warehouse import TrainingRun
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse
from quant_assets.lib.warehouse.metrics_writer import MetricsWriter


@dataclass
class Stats:
    spool_segments: int = 2
    pending_rows: int = 5


def test_nvml_open_without_gpu_reports_no_gpu_not_raising() -> None:
    nvml = Nvml.open()
    try:
        if nvml.handles:
            pytest.skip(f"this machine has a GPU: {nvml.status}")
        assert nvml.status.startswith("no GPU")
        assert nvml.sample() == []
    finally:
        nvml.close()


def test_sampler_without_gpu_logs_writer_backlog_each_interval() -> None:
    logged: list[tuple[str, int, float]] = []
    with SystemSampler(
        lambda n, s, v: logged.append((n, s, v)),
        interval_s=0.05,
        writer_stats=Stats,
        nvml=Nvml(status="no GPU: test"),
    ) as sampler:
        time.sleep(0.3)
    assert sampler.status == "no GPU: test" and sampler.error is None
    assert sampler.samples >= 3
    assert ("system/writer/spool_segments", 0, 2.0) in logged
    assert ("system/writer/pending_rows", 1, 5.0) in logged


def test_sampler_error_in_sampling_stops_sampler_not_caller() -> None:
    def broken() -> Stats:
        raise OSError("disk gone")

    with SystemSampler(lambda *a: None, interval_s=0.01, writer_stats=broken) as sampler:
        time.sleep(0.05)
    assert sampler.error == "OSError: disk gone"


def test_sampler_samples_land_in_metrics_table_beside_training_metrics(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    wh.upsert_training_run(TrainingRun("run-1", "PPO", datetime.now(tz=UTC)))
    with MetricsWriter(wh.metrics_sink(), tmp_path / "spool", close_sink=False) as writer:
        writer.log("run-1", "train/loss", 1, 0.5)
        with SystemSampler(
            lambda n, s, v: writer.log("run-1", n, s, v),
            interval_s=0.05,
            writer_stats=writer.stats,
        ):
            time.sleep(0.2)
    names = set(
        wh.query("SELECT DISTINCT name FROM metrics WHERE run_id = 'run-1'").column(0).to_pylist()
    )
    wh.close()
    assert {"train/loss", "system/writer/spool_segments", "system/writer/pending_rows"} <= names


def test_sampler_real_gpu_reports_utilisation_memory_power() -> None:
    nvml = Nvml.open()
    if not nvml.handles:
        pytest.skip(nvml.status)
    try:
        first, *_ = nvml.sample()
        assert 0 <= first.utilization_pct <= 100 and first.memory_used_mib > 0
    finally:
        nvml.close()
