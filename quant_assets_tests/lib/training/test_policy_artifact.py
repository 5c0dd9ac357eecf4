"""Policy artifact: same actions after a round trip, content-hash identity, lineage."""

from __future__ import annotations

import base64
import json
import pickle
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quant_assets.lib.evaluation.episodes import evaluate_policy
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig
from quant_assets.lib.training.artifact import (
    ArtifactIntegrityError,
    detect_code_version,
    load_policy,
    save_artifact,
    save_training_artifact,
)
from quant_assets.lib.training.config import TrainingConfig
from quant_assets.lib.training.train import TrainingResult, train_policy

torch.set_num_threads(1)
BARS = random_walk_bars(2000, seed=11)
ENV = TradingEnvConfig(window=8, norm_window=50, max_episode_steps=100)
PARTITIONS = [{"partition": "2024-01-02|SYN", "data_version": "abc123"}]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    cfg = TrainingConfig(
        total_timesteps=512,
        n_envs=4,
        env=ENV,
        hyperparams={"n_steps": 64, "batch_size": 64, "policy_kwargs": {"net_arch": [32, 32]}},
    )
    return train_policy(BARS, cfg, out_dir=tmp_path_factory.mktemp("run"), run_id="run-a")


def _test_observations(result: TrainingResult) -> np.ndarray:
    test = result.config.split.split(BARS)["test"]
    env = TradingEnv(test, params=result.cost_params, config=ENV)
    obs, _ = env.reset(seed=0)
    rows = [obs]
    rng = np.random.default_rng(0)
    for _ in range(299):
        obs, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        if truncated:
            obs, _ = env.reset()
        rows.append(obs)  # varied position slot and market windows
    return np.stack(rows)


@pytest.mark.parametrize("name", ["policy", "policy.zip"])
def test_load_policy_same_observations_same_actions_as_in_memory(
    trained: TrainingResult, tmp_path: Path, name: str
) -> None:
    info = save_training_artifact(trained, tmp_path / name, partitions=PARTITIONS)
    loaded = load_policy(info.path)
    obs = _test_observations(trained)
    np.testing.assert_array_equal(loaded.predict(obs), trained.act(obs))  # batch
    for row in obs[:20]:
        np.testing.assert_array_equal(loaded.predict(row), trained.act(row))  # single obs
    assert not np.allclose(trained.act(obs), trained.act(obs)[0])  # actions vary: a real test
    assert loaded.policy_id == info.policy_id and loaded.name == info.name


def test_save_artifact_dir_and_zip_resave_same_policy_id(
    trained: TrainingResult, tmp_path: Path
) -> None:
    a = save_training_artifact(trained, tmp_path / "a", partitions=PARTITIONS)
    b = save_training_artifact(trained, tmp_path / "b.zip", partitions=[])
    assert a.policy_id == b.policy_id
    assert a.name == f"ppo-{a.policy_id[:12]}"


def test_save_artifact_files_lineage_and_metrics_written(
    trained: TrainingResult, tmp_path: Path
) -> None:
    created = datetime(2024, 5, 1, 12, tzinfo=UTC)
    info = save_training_artifact(
        trained, tmp_path / "p", partitions=PARTITIONS, created_at=created, code_version="git:x"
    )
    names = {p.name for p in info.path.iterdir()}
    assert names == {"model.zip", "vecnormalize.npz", "config.json", "lineage.json", "metrics.json"}
    lineage = json.loads((info.path / "lineage.json").read_text())
    assert lineage["partitions"] == PARTITIONS
    assert lineage["cost_model_version"] == trained.cost_params.version
    assert lineage["code_version"] == "git:x"
    assert lineage["run_id"] == "run-a" and lineage["policy_id"] == info.policy_id
    assert datetime.fromisoformat(lineage["created_at"]) == created
    assert lineage["splits"]["train"]["n_bars"] == 1200
    assert json.loads((info.path / "metrics.json").read_text()) == trained.metrics
    cfg = TrainingConfig.model_validate_json((info.path / "config.json").read_text())
    assert cfg.config_hash() == trained.config.config_hash()
    with np.load(info.path / "vecnormalize.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["clip_obs", "count", "epsilon", "mean", "var"]
        assert trained.vec_normalize is not None and trained.vec_normalize.training is True
        np.testing.assert_array_equal(npz["mean"], trained.vec_normalize.obs_rms.mean)
    assert set(lineage["files_sha256"]) == names - {"lineage.json"}


def test_save_artifact_default_code_version_recorded(
    trained: TrainingResult, tmp_path: Path
) -> None:
    info = save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)
    lineage = json.loads((info.path / "lineage.json").read_text())
    assert lineage["code_version"] == detect_code_version() != ""  # "unknown" outside git/pip


def test_save_artifact_existing_path_raises(trained: TrainingResult, tmp_path: Path) -> None:
    save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)
    with pytest.raises(FileExistsError):
        save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)


def test_save_artifact_naive_created_at_raises(trained: TrainingResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        save_artifact(
            tmp_path / "p",
            model=trained.model,
            vec_normalize=trained.vec_normalize,
            config=trained.config,
            run_id="r",
            partitions=[],
            cost_model_version="v",
            metrics={},
            created_at=datetime(2024, 1, 1),  # noqa: DTZ001
        )


def test_load_policy_tampered_normalisation_raises_before_loading(
    trained: TrainingResult, tmp_path: Path
) -> None:
    info = save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)
    path = info.path / "vecnormalize.npz"
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["mean"] = arrays["mean"] + 0.5
    np.savez(path, **arrays)

    with pytest.raises(ArtifactIntegrityError, match=r"vecnormalize\.npz sha256"):
        load_policy(info.path)
    assert load_policy(info.path, verify=False).policy_id == info.policy_id


class _Planted:
    """A pickle payload that leaves a file behind when it is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_load_policy_model_zip_with_planted_pickle_rejected_before_unpickling(
    trained: TrainingResult, tmp_path: Path
) -> None:
    """SB3's model.zip carries cloudpickled objects (":serialized:" entries in ``data``): a
    swapped zip must fail on its sha256 before SB3 runs them."""
    info = save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)
    marker = tmp_path / "pwned"
    model = info.path / "model.zip"
    with zipfile.ZipFile(model) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(members["data"])
    payload = base64.b64encode(pickle.dumps(_Planted(marker))).decode()
    data["planted"] = {":type:": "<class 'object'>", ":serialized:": payload}
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(model, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)

    with pytest.raises(ArtifactIntegrityError, match=r"model\.zip sha256"):
        load_policy(info.path)
    assert not marker.exists()
    load_policy(info.path, verify=False)  # the payload is live: unverified loading runs it
    assert marker.exists()


def test_load_policy_expected_sha256_mismatch_raises(
    trained: TrainingResult, tmp_path: Path
) -> None:
    info = save_training_artifact(trained, tmp_path / "p", partitions=PARTITIONS)

    assert load_policy(info.path, expected_sha256=info.lineage_sha256).policy_id == info.policy_id
    with pytest.raises(ArtifactIntegrityError, match="expected"):
        load_policy(info.path, expected_sha256="0" * 64)


def test_loaded_policy_pickles_and_acts_the_same(trained: TrainingResult, tmp_path: Path) -> None:
    loaded = load_policy(save_training_artifact(trained, tmp_path / "p", partitions=[]).path)
    clone = pickle.loads(pickle.dumps(loaded))  # e.g. an IO manager passing it between steps
    obs = _test_observations(trained)[:50]
    np.testing.assert_array_equal(clone.predict(obs), loaded.predict(obs))


def test_evaluate_policy_loaded_artifact_named_by_policy_id(
    trained: TrainingResult, tmp_path: Path
) -> None:
    loaded = load_policy(save_training_artifact(trained, tmp_path / "p", partitions=[]).path)
    test = trained.config.split.split(BARS)["test"]
    results = evaluate_policy(
        loaded, test, n_episodes=2, cost_params=trained.cost_params, env_config=ENV, baselines=()
    )
    assert [r.policy for r in results] == [loaded.name] * 2
    assert all(r.cost_model_version == trained.cost_params.version for r in results)
