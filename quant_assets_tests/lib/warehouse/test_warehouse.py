"""Backend parity: every test runs on DuckDB and on TimescaleDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from quant_assets.lib.warehouse import (
    EpisodeRecord,
    MetricPoint,
    TrainingRun,
    UnknownPolicyError,
    Warehouse,
    make_warehouse,
)
from quant_assets.lib.warehouse.duckdb_backend import DuckDBWarehouse

T0 = datetime(2025, 1, 2, 9, 30, tzinfo=UTC)


def test_upsert_training_run_twice_updates_in_place(warehouse: Warehouse) -> None:
    run = TrainingRun("r1", "ppo", T0, config={"lr": 3e-4, "n": [1, 2]}, data_version="d1")
    warehouse.upsert_training_run(run)
    warehouse.upsert_training_run(
        TrainingRun("r1", "ppo", T0, config={"lr": 1e-3}, ended_at=T0, status="succeeded")
    )
    t = warehouse.query("SELECT run_id, config, status, ended_at FROM training_runs")
    assert t.num_rows == 1
    assert json.loads(t.column("config")[0].as_py()) == {"lr": 1e-3}
    assert t.column("status").to_pylist() == ["succeeded"]
    assert t.column("ended_at")[0].as_py() == T0


def test_upsert_training_run_naive_datetime_raises(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        naive = datetime(2025, 1, 1)  # noqa: DTZ001
        warehouse.upsert_training_run(TrainingRun("r1", "ppo", naive))


def test_write_metrics_replayed_rows_inserted_once(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    run = register_run(warehouse)
    rows = [MetricPoint(run, "train/loss", i, i / 2, T0 + timedelta(seconds=i)) for i in range(100)]
    assert warehouse.write_metrics(rows) == 100
    assert warehouse.write_metrics(rows) == 0
    assert warehouse.write_metrics(rows[50:] + rows[:10]) == 0
    t = warehouse.query(
        "SELECT count(*) AS n, sum(value) AS s FROM metrics WHERE run_id = :r", {"r": run}
    )
    assert t.column("n").to_pylist() == [100]
    assert t.column("s")[0].as_py() == pytest.approx(sum(i / 2 for i in range(100)))


def test_write_metrics_unknown_run_not_written(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    register_run(warehouse)
    table = pa.table(
        {
            "time": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            "run_id": ["run-1", "nope"],
            "name": ["a", "a"],
            "step": [1, 1],
            "value": [1.0, 2.0],
        }
    )
    assert warehouse.write_metrics(table) == 1
    assert warehouse.query("SELECT run_id FROM metrics").column("run_id").to_pylist() == ["run-1"]


def test_metrics_minute_rollup_aggregates_per_minute(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    run = register_run(warehouse)
    rows = [MetricPoint(run, "x", i, float(i), T0 + timedelta(seconds=10 * i)) for i in range(12)]
    warehouse.write_metrics(rows)
    t = warehouse.query(
        "SELECT bucket, n, avg_value, last_value, last_step FROM metrics_minute "
        "WHERE run_id = :r ORDER BY bucket",
        {"r": run},
    )
    assert t.column("n").to_pylist() == [6, 6]
    assert t.column("last_value").to_pylist() == [5.0, 11.0]
    assert t.column("last_step").to_pylist() == [5, 11]
    assert t.column("bucket")[0].as_py() == T0


def test_write_episodes_rewrite_replaces_row(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    run = register_run(warehouse)
    ep = EpisodeRecord(run, 7, "test", T0, T0 + timedelta(hours=1), ep_reward=1.5, n_trades=3)
    assert warehouse.write_episodes([ep, EpisodeRecord(run, 7, "train", ep_reward=0.5)]) == 2
    warehouse.write_episodes([EpisodeRecord(run, 7, "test", ep_reward=2.5, cost_total=0.1)])
    t = warehouse.query(
        "SELECT split, ep_reward, cost_total, n_trades FROM episodes ORDER BY split"
    ).to_pylist()
    assert t == [
        {"split": "test", "ep_reward": 2.5, "cost_total": 0.1, "n_trades": None},
        {"split": "train", "ep_reward": 0.5, "cost_total": None, "n_trades": None},
    ]


def test_upsert_cost_model_params_same_version_replaced(warehouse: Warehouse) -> None:
    warehouse.upsert_cost_model_params("ES", "v1", T0, {"spread_bps": 0.5})
    warehouse.upsert_cost_model_params("ES", "v1", T0 + timedelta(days=1), {"spread_bps": 0.7})
    warehouse.upsert_cost_model_params("ES", "v2", T0, {"spread_bps": 0.9})
    t = warehouse.query("SELECT version, params FROM cost_model_params ORDER BY version")
    params = [json.loads(p) for p in t.column("params").to_pylist()]
    assert params == [{"spread_bps": 0.7}, {"spread_bps": 0.9}]


def test_set_alias_flip_keeps_previous(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    run = register_run(warehouse)
    for pid in ("p1", "p2"):
        warehouse.register_policy(
            pid, run_id=run, algorithm="ppo", artifact_uri=f"file:///{pid}", metrics={"sharpe": 1}
        )
    assert warehouse.get_alias("prod") is None
    first = warehouse.set_alias("prod", "p1")
    assert (first.policy_id, first.previous_policy_id) == ("p1", None)
    second = warehouse.set_alias("prod", "p2")
    assert (second.policy_id, second.previous_policy_id) == ("p2", "p1")
    again = warehouse.set_alias("prod", "p2")  # re-pointing at the same policy keeps history
    assert (again.policy_id, again.previous_policy_id) == ("p2", "p1")
    got = warehouse.get_alias("prod")
    assert got is not None and got.policy_id == "p2" and got.updated_at.tzinfo is not None


def test_set_alias_unregistered_policy_raises_and_keeps_alias(
    warehouse: Warehouse, register_run: Callable[..., str]
) -> None:
    run = register_run(warehouse)
    warehouse.register_policy("p1", run_id=run, algorithm="ppo", artifact_uri="file:///p1")
    warehouse.set_alias("prod", "p1")
    with pytest.raises(UnknownPolicyError):
        warehouse.set_alias("prod", "ghost")
    alias = warehouse.get_alias("prod")
    assert alias is not None and alias.policy_id == "p1"


def test_make_warehouse_local_returns_duckdb(tmp_path: object) -> None:
    from pathlib import Path

    wh = make_warehouse("local", duckdb_path=Path(str(tmp_path)) / "x.duckdb")
    try:
        assert isinstance(wh, DuckDBWarehouse)
    finally:
        wh.close()
    with pytest.raises(ValueError, match="tsdb_dsn"):
        make_warehouse("prod")
    with pytest.raises(ValueError, match="unknown deployment"):
        make_warehouse("staging")
