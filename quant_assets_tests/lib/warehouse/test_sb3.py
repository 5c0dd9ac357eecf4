from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from quant_assets.lib.warehouse import MetricsWriter
from quant_assets.lib.warehouse.sb3 import WarehouseOutputFormat, configure_logger
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse


def test_sb3_ppo_cartpole_scalars_land_in_warehouse(
    tsdb_warehouse: TimescaleWarehouse, register_run: Callable[..., str], tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    run = register_run(tsdb_warehouse, "ppo-cartpole")
    with MetricsWriter(tsdb_warehouse.metrics_sink(), tmp_path / "spool") as writer:
        logger = configure_logger(writer, run, str(tmp_path / "sb3"), ["csv"])
        model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=1, seed=0)
        model.set_logger(logger)
        model.learn(total_timesteps=256)
        logger.close()  # flushes our format too
        stats = writer.stats()
    assert stats.sent > 0 and stats.written == stats.sent
    t = tsdb_warehouse.query(
        "SELECT name, count(*) AS n, max(step) AS last FROM metrics WHERE run_id = :r "
        "GROUP BY name",
        {"r": run},
    )
    by_name = dict(zip(t.column("name").to_pylist(), t.column("last").to_pylist(), strict=True))
    assert {"time/fps", "time/total_timesteps", "train/loss"} <= set(by_name)
    assert by_name["time/total_timesteps"] == 256

    # The same scalars through the historical path: progress.csv of this run, under another id.
    other = register_run(tsdb_warehouse, "ppo-cartpole-upload")
    with MetricsWriter(tsdb_warehouse.metrics_sink(), tmp_path / "spool2", on_invalid="skip") as w:
        assert w.upload_progress_csv(tmp_path / "sb3" / "progress.csv", other) > 0
    up = tsdb_warehouse.query(
        "SELECT count(DISTINCT name) AS k FROM metrics WHERE run_id = :r", {"r": other}
    )
    assert up.column("k")[0].as_py() >= len(by_name) - 1


def test_output_format_excluded_and_non_scalar_keys_skipped(
    duckdb_warehouse: object, register_run: Callable[..., str], tmp_path: Path
) -> None:
    from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

    assert isinstance(duckdb_warehouse, DuckDBWarehouse)
    run = register_run(duckdb_warehouse)
    with MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool") as w:
        fmt = WarehouseOutputFormat(w, run)
        fmt.write(
            {"a/x": 1.5, "a/hidden": 2.0, "a/text": "hello", "a/nan": float("nan")},
            {"a/hidden": ("warehouse",)},
            step=7,
        )
        fmt.close()
        assert fmt.dropped == 1  # the NaN: counted, not raised into training
    t = duckdb_warehouse.query("SELECT name, step, value FROM metrics")
    assert t.to_pylist() == [{"name": "a/x", "step": 7, "value": 1.5}]


def test_upload_tensorboard_scalars_events_land_once(
    duckdb_warehouse: object, register_run: Callable[..., str], tmp_path: Path
) -> None:
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

    assert isinstance(duckdb_warehouse, DuckDBWarehouse)
    run = register_run(duckdb_warehouse)
    tb = SummaryWriter(str(tmp_path / "tb"))
    for step in range(5):
        tb.add_scalar("train/loss", 1.0 / (step + 1), step)
    tb.close()
    with MetricsWriter(duckdb_warehouse.metrics_sink(), tmp_path / "spool") as w:
        assert w.upload_tensorboard_scalars(tmp_path / "tb", run) == 5
    t = duckdb_warehouse.query("SELECT count(*) AS n FROM metrics WHERE name = 'train/loss'")
    assert t.column("n")[0].as_py() == 5
