"""Stored evidence: the gate reads PnL over capital back from returns.parquet, not returns."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from quant_assets.lib.evaluation.episodes import evaluate_policy
from quant_assets.lib.evaluation.evidence import load_evaluation, save_evaluation
from quant_assets.lib.evaluation.pipeline import Evaluation, after
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig

ENV = TradingEnvConfig(window=8, norm_window=50)


def _long(_obs: np.ndarray) -> np.ndarray:
    return np.array([1.0], dtype=np.float32)


def test_save_load_evaluation_keeps_pnl_of_capital(tmp_path: Path) -> None:
    results = evaluate_policy(
        _long, random_walk_bars(400, seed=3), n_episodes=2, env_config=ENV, policy_name="long"
    )
    policy = SimpleNamespace(name="long", config=SimpleNamespace(env=ENV), policy_id="p")
    evaluation = Evaluation(
        challenger=policy,  # type: ignore[arg-type]
        champion=None,
        results=results,
        symbol="SYN",
        calendar="XNYS",
        bar_seconds=60.0,
        bars_per_year=97_764.0,
        bars_per_session=390.0,
        folds=1,
        comparable_from_ns=None,
    )
    store = ObjectStore.local(tmp_path)
    save_evaluation(store, "evaluations/SYN/e1", evaluation)
    summary, series = load_evaluation(store, "evaluations/SYN/e1")
    saved = evaluation.series()["long"]
    loaded = series["long"]
    assert loaded.pnl is not None
    np.testing.assert_array_equal(loaded.pnl, saved.pnl_of_capital)
    np.testing.assert_array_equal(loaded.returns, saved.returns)
    # the two differ once equity has moved: the gate's evidence is the PnL
    assert not np.allclose(loaded.pnl, loaded.returns, rtol=0, atol=1e-12)
    assert summary["fold_models"] == [] and set(series) >= {"long", "flat", "matched_null"}
    cut = after(loaded, int(loaded.ts[100]))
    assert cut.pnl is not None and cut.pnl.size == loaded.n_bars - 100
