from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from quant_assets.defs.evaluation import episodes, policy_promotion
from quant_assets.defs.ops import rollback_policy_job
from quant_assets.defs.ticks import tick_lake
from quant_assets.defs.training import trained_policy
from quant_assets.lib.evaluation.registry import (
    load_registered,
    production_alias,
    rollback,
)
from quant_assets.lib.evaluation.report_server import make_server, serve_in_thread
from quant_assets.lib.warehouse.base import UnknownPolicyError
from quant_assets_tests.defs.conftest import Platform
from resources.platform import PlatformSettingsResource


def training(seed: int) -> dict[str, Any]:
    return {
        "ops": {
            "trained_policy": {
                "config": {
                    "total_timesteps": 10,
                    "n_envs": 2,
                    "seed": seed,
                    "hyperparams": {"n_steps": 5, "batch_size": 10, "n_epochs": 1},
                    # three sessions cannot hold >= 2 train days (a calibration ends at the
                    # midnight after its session), an embargo session and a test session
                    "embargo_sessions": 0,
                }
            },
            "episodes": {"config": {"episodes_per_fold": 2, "min_episode_bars": 5}},
            # margin 0, a loose alpha and little evidence: tiny policies still get a decision
            "policy_promotion": {
                "config": {
                    "alpha": 0.5,
                    "n_boot": 199,
                    "min_bars": 10,
                    "min_sessions": 0,
                    "margin_bps_per_session": 0.0,
                }
            },
        }
    }


def train_evaluate_promote(
    instance: dg.DagsterInstance, resources: dict[str, Any], seed: int
) -> dict[str, Any]:
    result = dg.materialize(
        [trained_policy, episodes, policy_promotion, tick_lake],
        selection=[trained_policy, episodes, policy_promotion],
        partition_key="SYNA",
        instance=instance,
        resources=resources,
        run_config=training(seed),
    )
    assert result.success
    return {
        str(e.materialization.asset_key.path[-1]): {
            k: v.value for k, v in e.materialization.metadata.items()
        }
        for e in result.get_asset_materialization_events()
    }


def test_train_evaluate_promote_then_rollback_restores_previous(
    platform: Platform, tmp_path: Path
) -> None:
    instance, resources = platform
    warehouse = resources["warehouse"].get_warehouse()

    first = train_evaluate_promote(instance, resources, seed=0)
    evaluation = first["episodes"]
    assert evaluation["champion"] is None  # nothing in production yet
    # walk-forward: fold 0 is the trained policy, fold 1 a refit on the data before it
    fold0, fold1 = evaluation["fold_models"]
    assert evaluation["walk_forward"].startswith("refit per fold")
    assert fold0["reused"] and fold0["model_id"] == evaluation["challenger_policy_id"]
    assert not fold1["reused"] and fold1["model_id"] != fold0["model_id"]
    assert fold1["validation_last"] < fold1["test_first"]
    # a refit keeps >= 1 session of embargo even where this smoke recipe has none
    assert fold1["train_last"][:10] < fold1["validation_last"][:10] <= fold1["test_first"][:10]
    assert "### Fold models" in evaluation["tear_sheet"]
    rows = warehouse.query(
        "SELECT policy, count(*) AS n FROM episodes WHERE evaluation_id = :e GROUP BY policy "
        "ORDER BY policy",
        {"e": evaluation["evaluation_id"]},
    ).to_pylist()
    assert {r["policy"]: r["n"] for r in rows} == {
        evaluation["challenger"]: 4,
        "buy_and_hold": 4,
        "flat": 4,
        "matched_null": 4,
    }
    decided = warehouse.query(
        "SELECT promoted, reason, n_tried, n_bars FROM promotion_decisions"
    ).to_pylist()
    assert len(decided) == 1 and decided[0]["reason"] and decided[0]["n_tried"] == 1
    # tear sheet inline, HTML report and per-bar evidence in the object store, no dead link
    assert evaluation["tear_sheet"].startswith("![tear sheet](data:image/png;base64,")
    assert "Sharpe (ann.)" in evaluation["statistics"] and evaluation["folds"] == 2
    assert "training_metrics_dashboard" not in evaluation
    assert "report_url" not in evaluation  # no report server configured: no dead link
    store = resources["object_store"].get_store()
    report = store.read_bytes(f"{evaluation['evaluation_prefix']}/report.html").decode()
    assert "<img" in report and "Walk-forward folds" in report
    assert store.read_bytes(f"{evaluation['evaluation_prefix']}/returns.parquet")
    assert "hyperparameters" in first["trained_policy"]
    assert "production:SYNA" in first["policy_promotion"]["champion_view"]

    # Force a known champion, then evaluate a second challenger against it, with the report
    # server configured: the metadata links the stored report over HTTP and it opens.
    first_id = first["trained_policy"]["policy_id"]
    warehouse.set_alias(production_alias("SYNA"), first_id)
    server = make_server(store)
    serve_in_thread(server)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    served = {
        **resources,
        "platform": PlatformSettingsResource(data_root=str(tmp_path), reports_url=base),
    }
    try:
        second = train_evaluate_promote(instance, served, seed=1)
        link = second["episodes"]["report_url"]
        assert link == f"{base}/{second['episodes']['evaluation_prefix']}/report.html"
        with urllib.request.urlopen(link, timeout=10) as page:
            assert page.status == 200 and "Walk-forward folds" in page.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert second["episodes"]["champion_policy_id"] == first_id
    assert second["policy_promotion"]["challengers_tried_vs_champion"] == 1
    assert first_id[:12] in second["policy_promotion"]["champion_view"]
    alias = warehouse.get_alias(production_alias("SYNA"))
    assert alias is not None
    if second["policy_promotion"]["promoted"]:
        assert (alias.policy_id, alias.previous_policy_id) == (
            second["trained_policy"]["policy_id"],
            first_id,
        )
        restored = rollback(warehouse, "SYNA")
        assert restored.policy_id == first_id
    else:
        assert alias.policy_id == first_id  # a rejected challenger leaves production alone


def test_rollback_job_restores_previous_champion(
    platform: Platform,
) -> None:
    instance, resources = platform
    warehouse = resources["warehouse"].get_warehouse()
    a = train_evaluate_promote(instance, resources, seed=0)["trained_policy"]["policy_id"]
    b = train_evaluate_promote(instance, resources, seed=1)["trained_policy"]["policy_id"]
    warehouse.set_alias(production_alias("SYNA"), a)
    warehouse.set_alias(production_alias("SYNA"), b)
    result = rollback_policy_job.execute_in_process(
        run_config={"ops": {"rollback_production": {"config": {"symbol": "SYNA"}}}},
        resources={"warehouse": resources["warehouse"]},
        instance=instance,
    )
    assert result.success
    alias = warehouse.get_alias(production_alias("SYNA"))
    assert alias is not None and (alias.policy_id, alias.previous_policy_id) == (a, b)


def test_failed_promotion_leaves_alias_unchanged(
    platform: Platform,
) -> None:
    instance, resources = platform
    warehouse = resources["warehouse"].get_warehouse()
    a = train_evaluate_promote(instance, resources, seed=0)["trained_policy"]["policy_id"]
    warehouse.set_alias(production_alias("SYNA"), a)
    before = warehouse.get_alias(production_alias("SYNA"))
    with pytest.raises(UnknownPolicyError):
        warehouse.set_alias(production_alias("SYNA"), "not-a-registered-policy")
    assert warehouse.get_alias(production_alias("SYNA")) == before


def test_policy_loaded_by_id_or_alias_gives_identical_actions(
    platform: Platform, tmp_path: Path
) -> None:
    instance, resources = platform
    warehouse = resources["warehouse"].get_warehouse()
    store = resources["object_store"].get_store()
    policy_id = train_evaluate_promote(instance, resources, seed=0)["trained_policy"]["policy_id"]
    warehouse.set_alias(production_alias("SYNA"), policy_id)
    by_id = load_registered(store, warehouse, policy_id, "SYNA", tmp_path / "a")
    by_alias = load_registered(store, warehouse, "production", "SYNA", tmp_path / "b")
    shape = by_id.model.observation_space.shape
    assert shape is not None
    obs = np.random.default_rng(0).normal(size=(32, *shape))
    assert np.array_equal(
        by_id.predict(obs.astype(np.float32)), by_alias.predict(obs.astype(np.float32))
    )
