"""Pure-config tests of ``resources.docker_executor`` (no container engine needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._config import process_config
from dagster_docker import docker_executor
from docker.types import DeviceRequest, HostConfig

from quant_assets.lib.settings import Settings, SettingsError
from resources.docker_executor import (
    docker_executor_config,
    forwarded_env_vars,
    tick_executor,
    tick_local_executor_config,
    training_executor,
)

PROD_ENV = {
    "QUANT_DEPLOYMENT": "prod",
    "QUANT_S3_BUCKET": "quant-lake",
    "QUANT_TSDB_DSN": "postgresql://quant:secret@tsdb:5432/quant",
    "QUANT_TRAINING_IMAGE": "registry.example.com/quant-platform:1.2.3",
    "AWS_ACCESS_KEY_ID": "AKIA",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t",
    "DAGSTER_PG_HOST": "pg",
    "DAGSTER_PG_PASSWORD": "pgpass",
    "HOME": "/home/quant",
    "PATH": "/usr/bin",
}


def _validated(config: dict[str, Any]) -> dict[str, Any]:
    """The config as docker_executor's own schema resolves it (raises on a schema error)."""
    result = process_config(docker_executor.config_schema.config_type, config)
    assert result.success, result.errors
    value: dict[str, Any] = result.value  # type: ignore[assignment]
    return value


def test_docker_executor_config_prod_env_matches_executor_schema() -> None:
    config = docker_executor_config(PROD_ENV)
    resolved = _validated(config)
    assert resolved["image"] == "registry.example.com/quant-platform:1.2.3"
    assert resolved["container_kwargs"]["device_requests"] == [
        {"count": -1, "capabilities": [["gpu"]]}
    ]


def test_docker_executor_config_device_requests_accepted_by_docker_sdk() -> None:
    config = docker_executor_config(PROD_ENV)
    host_config = HostConfig(version="1.41", **config["container_kwargs"])
    (request,) = host_config["DeviceRequests"]
    assert isinstance(request, DeviceRequest)
    assert request["Count"] == -1
    assert request["Capabilities"] == [["gpu"]]
    assert host_config["ShmSize"] == 2 * 1024**3


def test_docker_executor_config_env_vars_are_names_only_no_values() -> None:
    config = docker_executor_config(PROD_ENV)
    assert config["env_vars"] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PASSWORD",
        "QUANT_DEPLOYMENT",
        "QUANT_S3_BUCKET",
        "QUANT_TRAINING_IMAGE",
        "QUANT_TSDB_DSN",
        "QUANT_REQUIRE_GPU=1",  # a marker, not a credential: the step checks it got its GPU
    ]
    flat = repr(config)
    for secret in ("s3cr3t", "pgpass", "quant:secret"):
        assert secret not in flat


def test_docker_executor_config_without_image_raises() -> None:
    env = {k: v for k, v in PROD_ENV.items() if k != "QUANT_TRAINING_IMAGE"}
    with pytest.raises(SettingsError, match="QUANT_TRAINING_IMAGE"):
        docker_executor_config(env)


def test_docker_executor_config_network_and_registry_use_env_indirection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        **PROD_ENV,
        "QUANT_TRAINING_NETWORK": "quant_default",
        "QUANT_TRAINING_REGISTRY_URL": "registry.example.com",
        "QUANT_TRAINING_REGISTRY_USERNAME": "ci",
        "QUANT_TRAINING_REGISTRY_PASSWORD": "regpass",
    }
    config = docker_executor_config(env)
    for name in ("QUANT_TRAINING_REGISTRY_USERNAME", "QUANT_TRAINING_REGISTRY_PASSWORD"):
        monkeypatch.setenv(name, env[name])  # resolved by dagster when the executor starts
    assert _validated(config)["registry"]["password"] == "regpass"
    assert config["networks"] == ["quant_default"]
    assert config["registry"] == {
        "url": "registry.example.com",
        "username": {"env": "QUANT_TRAINING_REGISTRY_USERNAME"},
        "password": {"env": "QUANT_TRAINING_REGISTRY_PASSWORD"},
    }
    assert "QUANT_TRAINING_REGISTRY_PASSWORD" not in config["env_vars"]
    assert "regpass" not in repr(config)


def test_docker_executor_config_cpu_only_has_no_device_requests() -> None:
    config = docker_executor_config(PROD_ENV, gpus=False, max_concurrent=1)
    _validated(config)
    assert "device_requests" not in config["container_kwargs"]
    assert config["max_concurrent"] == 1


def test_docker_executor_config_explicit_env_without_deployment_pins_prod() -> None:
    env = {"QUANT_TRAINING_IMAGE": "quant-platform:dev"}
    assert "QUANT_DEPLOYMENT=prod" in docker_executor_config(env)["env_vars"]


def test_forwarded_env_vars_prefixes_only() -> None:
    assert forwarded_env_vars({"QUANT_X": "1", "AWSX": "2", "PATH": "/", "DAGSTER_HOME": "/d"}) == [
        "QUANT_X"
    ]


def test_training_executor_prod_is_configured_docker_executor() -> None:
    settings = Settings.from_env(PROD_ENV)
    executor_def = training_executor(settings, env=PROD_ENV)
    assert executor_def.name == "quant_training_docker_executor"
    assert executor_def.executor_creation_fn is docker_executor.executor_creation_fn

    @dg.op
    def noop() -> None:
        return None

    # A job using it must build (config fully supplied by `.configured`).
    job = dg.GraphDefinition(name="g", node_defs=[noop]).to_job(executor_def=executor_def)
    assert job.executor_def is executor_def


def test_training_executor_local_is_multiprocess(tmp_path: Path) -> None:
    settings = Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)})
    executor_def = training_executor(settings)
    assert executor_def.name == "quant_training_local_executor"
    assert executor_def.executor_creation_fn is dg.multiprocess_executor.executor_creation_fn


def test_docker_executor_config_secret_settings_forwarded_by_name_values_absent() -> None:
    env = {
        **PROD_ENV,
        "QUANT_SECRETS_BACKEND": "aws",
        "QUANT_TSDB_PASSWORD_SECRET": "QUANT_TSDB_PASSWORD",
        "QUANT_TSDB_PASSWORD": "planted-tsdb-password",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://secrets.internal:4566",
    }
    config = docker_executor_config(env)

    assert {"QUANT_SECRETS_BACKEND", "QUANT_TSDB_PASSWORD_SECRET", "QUANT_TSDB_PASSWORD"} <= set(
        config["env_vars"]
    )
    assert "AWS_ENDPOINT_URL_SECRETS_MANAGER" in config["env_vars"]
    assert "planted-tsdb-password" not in repr(config)


def test_training_executor_prod_without_image_loads_definitions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from quant_assets.definitions import build_defs
    from resources.docker_executor import deferred_training_executor

    env = {k: v for k, v in PROD_ENV.items() if k != "QUANT_TRAINING_IMAGE"}
    assert training_executor(Settings.from_env(env), env=env) is deferred_training_executor
    monkeypatch.delenv("QUANT_TRAINING_IMAGE", raising=False)
    defs = build_defs(Settings.from_env(env))  # the whole code location loads without it
    assert defs.resolve_job_def("train_policy").executor_def is deferred_training_executor


def test_deferred_training_executor_fails_at_run_start_without_image_builds_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.executor.init import InitExecutorContext
    from dagster._core.executor.step_delegating import StepDelegatingExecutor

    from resources.docker_executor import deferred_training_executor

    @dg.op
    def noop() -> None:
        return None

    job = dg.GraphDefinition(name="train", node_defs=[noop]).to_job()
    context = InitExecutorContext(
        job=InMemoryJob(job),
        executor_def=deferred_training_executor,
        executor_config={},
        instance=dg.DagsterInstance.ephemeral(),
    )
    monkeypatch.delenv("QUANT_TRAINING_IMAGE", raising=False)
    with pytest.raises(SettingsError, match="set QUANT_TRAINING_IMAGE"):
        deferred_training_executor.executor_creation_fn(context)  # type: ignore[misc]
    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    executor = deferred_training_executor.executor_creation_fn(context)  # type: ignore[misc]
    assert isinstance(executor, StepDelegatingExecutor)


def test_tick_executor_prod_with_tick_image_docker_executor_without_gpu() -> None:
    env = {**PROD_ENV, "QUANT_TICK_IMAGE": "registry.example.com/quant-platform:1.2.3-cpu"}
    env["QUANT_TICK_MAX_CONCURRENT"] = "8"
    executor_def = tick_executor(Settings.from_env(env), env=env)
    assert executor_def.name == "quant_tick_docker_executor"
    assert executor_def.executor_creation_fn is docker_executor.executor_creation_fn
    config = docker_executor_config(env, gpus=False, max_concurrent=8, image_env="QUANT_TICK_IMAGE")
    resolved = _validated(config)
    assert resolved["image"] == "registry.example.com/quant-platform:1.2.3-cpu"
    assert resolved["max_concurrent"] == 8
    assert "device_requests" not in resolved["container_kwargs"]
    assert "QUANT_REQUIRE_GPU=1" not in resolved["env_vars"]


def test_tick_executor_prod_without_tick_image_multiprocess_in_run() -> None:
    env = {**PROD_ENV, "QUANT_TICK_MAX_CONCURRENT": "4"}
    executor_def = tick_executor(Settings.from_env(env), env=env)
    assert executor_def.name == "quant_tick_local_executor"
    assert executor_def.executor_creation_fn is dg.multiprocess_executor.executor_creation_fn


def test_tick_executor_local_default_steps_share_the_run_process(tmp_path: Path) -> None:
    settings = Settings.from_env({"QUANT_DATA_ROOT": str(tmp_path)})
    assert settings.tick_max_concurrent == 1
    assert tick_executor(settings) is dg.in_process_executor


def test_tick_executor_local_max_concurrent_from_settings(tmp_path: Path) -> None:
    env = {"QUANT_DATA_ROOT": str(tmp_path), "QUANT_TICK_MAX_CONCURRENT": "3"}
    settings = Settings.from_env(env)
    assert tick_executor(settings).name == "quant_tick_local_executor"
    config = tick_local_executor_config(settings)
    assert process_config(dg.multiprocess_executor.config_schema.config_type, config).success
    assert config["max_concurrent"] == 3
    assert config["start_method"]["forkserver"]["preload_modules"] == ["quant_assets.definitions"]
