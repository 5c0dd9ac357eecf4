"""Policy artifact: everything needed to act with a trained policy and to trace where it came from.

Layout (a directory, or the same files in a ``.zip``)::

    model.zip          SB3 model (weights, optimiser state, hyperparameters)
    vecnormalize.npz   observation-normalisation statistics (mean, var, count, epsilon, clip_obs)
                       as plain numpy arrays, read with allow_pickle=False (absent when the
                       config has normalize=False)
    config.json        TrainingConfig
    lineage.json       policy_id, run_id, created_at (UTC), code version, cost-model version,
                       clean partitions + data versions used, library versions, and
                       ``files_sha256``: the sha256 of every other file
    metrics.json       validation (or any) figures, name -> float

Loading checks every file against ``files_sha256`` *before* anything is deserialised: SB3's
model.zip holds cloudpickled objects, so a tampered zip must be rejected on its bytes, not after
``load`` has run its pickles. ``lineage_sha256`` (the digest of lineage.json, which covers the
others) can be recorded elsewhere (the policy registry) and passed as ``expected_sha256``.

``policy_id`` is a content hash of what determines the policy's actions: the config hash, the
policy network's parameters and the observation-normalisation statistics. It does not hash the
zip bytes (SB3 zips carry write times), so re-saving the same policy gives the same id, and the
loader recomputes it to catch a corrupted or tampered artifact.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

from quant_assets.lib.training.config import TrainingConfig, algorithm_class
from quant_assets.lib.training.train import TrainingResult

ARTIFACT_SCHEMA_VERSION = 2
HASHED_SCHEMA_VERSION = 1  # policy_id hash domain, unchanged since schema 1
MODEL_FILE = "model.zip"
VECNORM_FILE = "vecnormalize.npz"
LEGACY_VECNORM_FILE = "vecnormalize.pkl"  # schema 1 artifacts; read only with verify=False
CONFIG_FILE = "config.json"
LINEAGE_FILE = "lineage.json"
METRICS_FILE = "metrics.json"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: same files -> same zip bytes


class ArtifactIntegrityError(ValueError):
    """The artifact's content does not match its recorded ``policy_id``."""


@dataclass(frozen=True, eq=False)
class ObsNormalizer:
    """Frozen VecNormalize observation statistics, applied exactly as
    ``VecNormalize.normalize_obs`` does; plain numpy, so a loaded policy pickles cleanly."""

    mean: NDArray[np.float64]
    var: NDArray[np.float64]
    count: float
    epsilon: float
    clip_obs: float

    @classmethod
    def from_vec_normalize(cls, vec_normalize: VecNormalize) -> ObsNormalizer | None:
        if not vec_normalize.norm_obs:
            return None
        rms = vec_normalize.obs_rms
        if not isinstance(rms, RunningMeanStd):
            raise TypeError("dict observation spaces are not supported")
        return cls(
            mean=np.array(rms.mean, dtype=np.float64),
            var=np.array(rms.var, dtype=np.float64),
            count=float(rms.count),
            epsilon=float(vec_normalize.epsilon),
            clip_obs=float(vec_normalize.clip_obs),
        )

    def to_npz(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            mean=self.mean,
            var=self.var,
            count=np.float64(self.count),
            epsilon=np.float64(self.epsilon),
            clip_obs=np.float64(self.clip_obs),
        )
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> ObsNormalizer:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(
                mean=np.asarray(npz["mean"], dtype=np.float64),
                var=np.asarray(npz["var"], dtype=np.float64),
                count=float(npz["count"]),
                epsilon=float(npz["epsilon"]),
                clip_obs=float(npz["clip_obs"]),
            )

    def __call__(self, obs: NDArray[np.float32]) -> NDArray[np.float32]:
        z = (obs - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(z, -self.clip_obs, self.clip_obs).astype(np.float32)


def policy_content_hash(
    model: BaseAlgorithm, normalizer: ObsNormalizer | None, config: TrainingConfig
) -> str:
    """sha256 over config hash, network parameters (name, dtype, shape, bytes; sorted) and the
    observation-normalisation statistics — see module docstring."""
    h = hashlib.sha256(f"quant-policy-v{HASHED_SCHEMA_VERSION}\0".encode())
    h.update(config.config_hash().encode())
    for name, tensor in sorted(model.policy.state_dict().items()):
        arr = np.ascontiguousarray(tensor.detach().cpu().numpy())
        h.update(f"\0{name}:{arr.dtype.str}:{arr.shape}\0".encode())
        h.update(arr.tobytes())
    if normalizer is not None:
        h.update(b"\0obs_rms\0")
        h.update(normalizer.mean.tobytes())
        h.update(normalizer.var.tobytes())
        h.update(repr((normalizer.count, normalizer.epsilon, normalizer.clip_obs)).encode())
    return h.hexdigest()


def detect_code_version() -> str:
    """Git commit of the checkout (``-dirty`` with local changes), else the package version."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0 and commit.stdout.strip():
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=10,
            )
            suffix = "-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else ""
            return f"git:{commit.stdout.strip()}{suffix}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"pkg:{importlib.metadata.version('quant-platform')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False).encode()


@dataclass(frozen=True)
class ArtifactInfo:
    """Where an artifact was written and its identity."""

    path: Path
    policy_id: str
    name: str  # "<algorithm>-<policy_id[:12]>", the policy name in evaluations
    lineage_sha256: str = ""  # digest of lineage.json (covers every file): pin it elsewhere


def policy_name(algorithm: str, policy_id: str) -> str:
    return f"{algorithm.lower()}-{policy_id[:12]}"


def save_artifact(
    path: Path,
    *,
    model: BaseAlgorithm,
    vec_normalize: VecNormalize | None,
    config: TrainingConfig,
    run_id: str,
    partitions: Sequence[Mapping[str, Any]],
    cost_model_version: str,
    metrics: Mapping[str, float],
    code_version: str | None = None,
    created_at: datetime | None = None,
    extra_lineage: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> ArtifactInfo:
    """Write the artifact to ``path`` (a ``.zip`` file when the name ends in ``.zip``, else a
    directory), atomically: it is assembled beside the target and renamed into place.

    ``partitions``: the clean partitions trained on, e.g. ``{"partition": "2024-01-02|SYN",
    "data_version": "..."}`` — JSON-serialisable dicts, stored as given.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"artifact {path} exists; artifacts are immutable (overwrite=True)")
    if created_at is None:
        created_at = datetime.now(tz=UTC)
    elif created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError(f"created_at must be timezone-aware, got {created_at!r}")
    normalizer = (
        ObsNormalizer.from_vec_normalize(vec_normalize) if vec_normalize is not None else None
    )
    policy_id = policy_content_hash(model, normalizer, config)
    buf = io.BytesIO()
    model.save(buf)
    files: dict[str, bytes] = {
        MODEL_FILE: buf.getvalue(),
        CONFIG_FILE: _json(config.model_dump(mode="json")),
        METRICS_FILE: _json({k: float(v) for k, v in metrics.items()}),
    }
    if normalizer is not None:
        files[VECNORM_FILE] = normalizer.to_npz()
    lineage = {
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "policy_id": policy_id,
        "run_id": run_id,
        "algorithm": config.algorithm,
        "config_hash": config.config_hash(),
        "created_at": created_at.astimezone(UTC).isoformat(),
        "code_version": code_version if code_version is not None else detect_code_version(),
        "cost_model_version": cost_model_version,
        "partitions": [dict(p) for p in partitions],
        "libraries": {
            lib: importlib.metadata.version(lib)
            for lib in ("stable-baselines3", "torch", "gymnasium", "numpy")
        },
        **dict(extra_lineage or {}),
        "files_sha256": {name: sha256_hex(data) for name, data in sorted(files.items())},
    }
    files[LINEAGE_FILE] = _json(lineage)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if path.suffix == ".zip":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for name in sorted(files):
                zf.writestr(zipfile.ZipInfo(name, _ZIP_TIME), files[name])
        os.replace(tmp, path)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    return ArtifactInfo(
        path, policy_id, policy_name(config.algorithm, policy_id), sha256_hex(files[LINEAGE_FILE])
    )


def save_training_artifact(
    result: TrainingResult,
    path: Path,
    *,
    partitions: Sequence[Mapping[str, Any]],
    cost_model_version: str | None = None,
    **kwargs: Any,
) -> ArtifactInfo:
    """:func:`save_artifact` for a :class:`TrainingResult` (its validation metrics, its cost
    calibration version and split boundaries in the lineage)."""
    extra = {
        "splits": {
            name: {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()}
            for name, s in result.splits.items()
        },
        "num_timesteps": result.num_timesteps,
        **dict(kwargs.pop("extra_lineage", None) or {}),
    }
    return save_artifact(
        path,
        model=result.model,
        vec_normalize=result.vec_normalize,
        config=result.config,
        run_id=result.run_id,
        partitions=partitions,
        cost_model_version=cost_model_version or result.cost_params.version,
        metrics=result.metrics,
        extra_lineage=extra,
        **kwargs,
    )


class LoadedPolicy:
    """A policy loaded from an artifact, ready to act on raw env observations."""

    def __init__(
        self,
        model: BaseAlgorithm,
        normalizer: ObsNormalizer | None,
        config: TrainingConfig,
        lineage: dict[str, Any],
        metrics: dict[str, float],
        path: Path,
    ) -> None:
        self.model = model
        self.normalizer = normalizer
        self.config = config
        self.lineage = lineage
        self.metrics = metrics
        self.path = path
        self.policy_id: str = lineage["policy_id"]
        self.name: str = policy_name(config.algorithm, self.policy_id)

    def normalize(self, obs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Observations as the network saw them in training (frozen statistics)."""
        return obs if self.normalizer is None else self.normalizer(obs)

    def predict(self, obs: NDArray[np.float32], deterministic: bool = True) -> Any:
        """Action(s) for one observation or a batch (SB3 shapes); no recurrent state."""
        action, _ = self.model.predict(self.normalize(obs), deterministic=deterministic)
        return action

    def __call__(self, obs: NDArray[np.float32]) -> Any:
        return self.predict(obs, deterministic=True)

    def __repr__(self) -> str:
        return f"LoadedPolicy({self.name!r}, path={str(self.path)!r})"


def _read_files(path: Path) -> dict[str, bytes]:
    names = (MODEL_FILE, VECNORM_FILE, LEGACY_VECNORM_FILE, CONFIG_FILE, LINEAGE_FILE, METRICS_FILE)
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            present = set(zf.namelist())
            return {n: zf.read(n) for n in names if n in present}
    return {n: (path / n).read_bytes() for n in names if (path / n).is_file()}


def verify_files(
    path: Path, files: Mapping[str, bytes], expected_sha256: str | None = None
) -> dict[str, Any]:
    """Check every file's bytes against lineage.json's ``files_sha256`` (and lineage.json against
    ``expected_sha256`` when given); returns the parsed lineage. Reads JSON only: nothing is
    unpickled before this passes."""
    if LINEAGE_FILE not in files:
        raise FileNotFoundError(f"artifact {path} lacks {LINEAGE_FILE}")
    actual_lineage = sha256_hex(files[LINEAGE_FILE])
    if expected_sha256 is not None and actual_lineage != expected_sha256:
        raise ArtifactIntegrityError(
            f"artifact {path}: {LINEAGE_FILE} sha256 {actual_lineage} != expected {expected_sha256}"
        )
    lineage: dict[str, Any] = json.loads(files[LINEAGE_FILE])
    recorded = lineage.get("files_sha256")
    if not isinstance(recorded, dict):
        raise ArtifactIntegrityError(
            f"artifact {path} records no files_sha256 (schema < 2): refusing to unpickle it; "
            "re-train, or load with verify=False if you trust its origin"
        )
    present = {name for name in files if name != LINEAGE_FILE}
    if present != set(recorded):
        raise ArtifactIntegrityError(
            f"artifact {path}: files {sorted(present)} != recorded {sorted(recorded)}"
        )
    for name in sorted(present):
        if sha256_hex(files[name]) != recorded[name]:
            raise ArtifactIntegrityError(f"artifact {path}: {name} sha256 differs from lineage")
    return lineage


def load_policy(
    path: Path, *, device: str = "cpu", verify: bool = True, expected_sha256: str | None = None
) -> LoadedPolicy:
    """Load an artifact directory or zip.

    ``verify`` (default) first checks every file's sha256 against lineage.json (and lineage.json
    against ``expected_sha256``) — before SB3 unpickles anything in model.zip — then recomputes
    ``policy_id`` from the loaded content. ``verify=False`` loads legacy pickled normalisers too:
    only for artifacts whose origin you trust.
    """
    path = Path(path)
    files = _read_files(path)
    missing = {MODEL_FILE, CONFIG_FILE, LINEAGE_FILE} - set(files)
    if missing:
        raise FileNotFoundError(f"artifact {path} lacks {sorted(missing)}")
    if verify:
        lineage = verify_files(path, files, expected_sha256)
    else:
        lineage = json.loads(files[LINEAGE_FILE])
    config = TrainingConfig.model_validate_json(files[CONFIG_FILE])
    metrics = json.loads(files[METRICS_FILE]) if METRICS_FILE in files else {}
    normalizer: ObsNormalizer | None = None
    if VECNORM_FILE in files:
        normalizer = ObsNormalizer.from_npz(files[VECNORM_FILE])
    elif LEGACY_VECNORM_FILE in files and not verify:
        import pickle

        normalizer = ObsNormalizer.from_vec_normalize(pickle.loads(files[LEGACY_VECNORM_FILE]))
    elif config.normalize:
        raise FileNotFoundError(f"artifact {path} lacks {VECNORM_FILE} but config.normalize")
    model = algorithm_class(config.algorithm).load(io.BytesIO(files[MODEL_FILE]), device=device)
    if verify:
        actual = policy_content_hash(model, normalizer, config)
        if actual != lineage.get("policy_id"):
            raise ArtifactIntegrityError(
                f"artifact {path}: content hash {actual} != recorded policy_id "
                f"{lineage.get('policy_id')}"
            )
    return LoadedPolicy(model, normalizer, config, lineage, metrics, path)
