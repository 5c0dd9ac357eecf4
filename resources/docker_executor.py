"""Executor for the training step: a GPU container in prod, local processes on a laptop.

Prod runs each step of the training job in its own container of ``QUANT_TRAINING_IMAGE``
(``docker/Dockerfile``) through ``dagster_docker.docker_executor`` with every GPU of the host
attached. Only *names* of environment variables go into the config: the step launcher copies the
values from its own environment when it creates the container, so no credential is ever written
to the job definition or the run storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from quant_assets.lib.settings import Deployment, Settings, SettingsError, process_environment

TRAINING_IMAGE_ENV = "QUANT_TRAINING_IMAGE"
TRAINING_NETWORK_ENV = "QUANT_TRAINING_NETWORK"  # e.g. the compose network of the prod stack
REGISTRY_URL_ENV = "QUANT_TRAINING_REGISTRY_URL"
REGISTRY_USERNAME_ENV = "QUANT_TRAINING_REGISTRY_USERNAME"
REGISTRY_PASSWORD_ENV = "QUANT_TRAINING_REGISTRY_PASSWORD"
# Marks GPU step containers; quant_assets/lib/training/placement.py (same name) fails a training
# that finds no GPU. Not imported from there: step workers import this module without numpy/torch.
REQUIRE_GPU_ENV = "QUANT_REQUIRE_GPU"

# Forwarded into the step container (by name) when set where the step is launched: deployment
# switch and data locations, S3 credentials/endpoint, the Postgres instance storage that
# dagster.yaml reads with {env: DAGSTER_PG_*}.
FORWARDED_PREFIXES = ("QUANT_", "AWS_", "DAGSTER_PG_")
# Registry credentials are for the launcher's image pull only; the step never needs them.
NOT_FORWARDED = frozenset({REGISTRY_USERNAME_ENV, REGISTRY_PASSWORD_ENV})

# Imported once by the local executor's forkserver, so each training step starts warm.
TRAINING_PRELOAD = ("quant_assets.definitions", "quant_assets.defs.training")

# Every GPU of the host (`docker run --gpus all`); needs the NVIDIA container toolkit there.
ALL_GPUS: dict[str, Any] = {"count": -1, "capabilities": [["gpu"]]}
# PyTorch worker processes share tensors through /dev/shm; Docker's default is only 64 MB.
TRAINING_SHM_SIZE = "2g"


def forwarded_env_vars(env: Mapping[str, str]) -> list[str]:
    """Names of the variables the step container inherits, sorted (stable config)."""
    return sorted(
        name for name in env if name.startswith(FORWARDED_PREFIXES) and name not in NOT_FORWARDED
    )


def docker_executor_config(
    env: Mapping[str, str],
    *,
    gpus: bool = True,
    max_concurrent: int | None = None,
    image_env: str = TRAINING_IMAGE_ENV,
) -> dict[str, Any]:
    """Config for ``docker_executor`` from the environment (pure: no docker call); the image
    is ``image_env``'s value (the training image, or the tick build's)."""
    image = env.get(image_env, "").strip()
    if not image and image_env != TRAINING_IMAGE_ENV:
        raise SettingsError(f"{image_env} is not set: no image for the step containers")
    if not image:
        raise SettingsError(
            f"QUANT_DEPLOYMENT=prod trains in a container: set {TRAINING_IMAGE_ENV} to the image "
            "built from docker/Dockerfile (e.g. registry.example.com/quant-platform:1.2.3)"
        )
    container_kwargs: dict[str, Any] = {"shm_size": TRAINING_SHM_SIZE}
    if gpus:
        container_kwargs["device_requests"] = [dict(ALL_GPUS)]
    config: dict[str, Any] = {
        "image": image,
        "env_vars": forwarded_env_vars(env),
        "container_kwargs": container_kwargs,
        "retries": {"enabled": {}},
    }
    network = env.get(TRAINING_NETWORK_ENV, "").strip()
    if "QUANT_DEPLOYMENT" not in env:  # settings built from an explicit mapping
        config["env_vars"].append("QUANT_DEPLOYMENT=prod")
    if gpus:  # the step checks it got a GPU (lib/training/placement.py): engines drop requests
        config["env_vars"].append(f"{REQUIRE_GPU_ENV}=1")
    if network:
        config["networks"] = [network]
    if env.get(REGISTRY_URL_ENV):
        # StringSource indirection: the launcher reads the credentials at pull time.
        config["registry"] = {
            "url": env[REGISTRY_URL_ENV],
            "username": {"env": REGISTRY_USERNAME_ENV},
            "password": {"env": REGISTRY_PASSWORD_ENV},
        }
    if max_concurrent is not None:
        config["max_concurrent"] = max_concurrent
    return config


@dg.executor(
    name="quant_training_docker_executor",
    requirements=dg.multiple_process_executor_requirements(),
)
def deferred_training_executor(init_context: dg.InitExecutorContext) -> Any:
    """The docker executor, configured from the environment *of the run* when it starts: a
    missing ``QUANT_TRAINING_IMAGE`` fails this training run with a clear error (not the load of
    every code location)."""
    from dagster._config import process_config
    from dagster._core.executor.init import InitExecutorContext
    from dagster_docker import docker_executor

    config = docker_executor_config(process_environment())  # SettingsError names the variable
    processed = process_config(docker_executor.config_schema.config_type, config)
    if not processed.success:
        raise SettingsError(f"invalid training executor config: {processed.errors}")
    return docker_executor.executor_creation_fn(  # type: ignore[misc]
        InitExecutorContext(
            job=init_context.job,
            executor_def=docker_executor,
            executor_config=processed.value,  # type: ignore[arg-type]
            instance=init_context.instance,
        )
    )


def training_executor(
    settings: Settings, env: Mapping[str, str] | None = None
) -> dg.ExecutorDefinition:
    """The training job's executor.

    prod: every step in a ``QUANT_TRAINING_IMAGE`` container with all GPUs attached.
    local: Dagster's multiprocess executor (one process per step, like one container per step in
    prod, so a crashing torch step cannot take the run down), one step at a time so a small
    machine is not oversubscribed; steps fork from a forkserver with the code preloaded.
    """
    if settings.deployment is Deployment.PROD:
        from dagster_docker import docker_executor

        e = settings.env if env is None else env
        if not e.get(TRAINING_IMAGE_ENV, "").strip():
            # Loading the definitions (webserver, daemon, sensors, non-training jobs) must not
            # need the training image; a training run without it fails at its start, saying so.
            return deferred_training_executor
        return docker_executor.configured(
            docker_executor_config(e), name="quant_training_docker_executor"
        )
    return dg.multiprocess_executor.configured(
        {
            "max_concurrent": 1,
            # Steps fork from a server that imported the code location once per run.
            "start_method": {"forkserver": {"preload_modules": list(TRAINING_PRELOAD)}},
        },
        name="quant_training_local_executor",
    )


# ------------------------------------------------------------------ tick builds

TICK_IMAGE_ENV = "QUANT_TICK_IMAGE"
# Imported once per run by the local executor's forkserver: each chunk step starts warm.
TICK_PRELOAD = ("quant_assets.definitions",)


def tick_executor(
    settings: Settings, env: Mapping[str, str] | None = None
) -> dg.ExecutorDefinition:
    """The tick build's executor: it decides where each symbol-chunk step (and each check) runs.

    prod with ``QUANT_TICK_IMAGE``: every step in its own container of that image
    (``docker_executor``, no GPU), up to ``QUANT_TICK_MAX_CONCURRENT`` at once.
    Otherwise, with ``QUANT_TICK_MAX_CONCURRENT`` > 1: Dagster's multiprocess executor, one
    process per step forked from a server that imported the code location once, that many at a
    time. With 1 (the default): the steps share the run's process, because on one machine a
    process per step costs seconds of start-up and a GX context each (a 20k-tick partition took
    34x its in-process time) and buys no isolation a local user needs. A cluster swaps in
    ``dagster_k8s.k8s_job_executor`` (docs/partitions.md).
    """
    e = settings.env if env is None else env
    if settings.deployment is Deployment.PROD and e.get(TICK_IMAGE_ENV, "").strip():
        from dagster_docker import docker_executor

        config = docker_executor_config(
            e, gpus=False, max_concurrent=settings.tick_max_concurrent, image_env=TICK_IMAGE_ENV
        )
        return docker_executor.configured(config, name="quant_tick_docker_executor")
    if settings.tick_max_concurrent <= 1:
        return dg.in_process_executor
    return dg.multiprocess_executor.configured(
        tick_local_executor_config(settings), name="quant_tick_local_executor"
    )


def tick_local_executor_config(settings: Settings) -> dict[str, Any]:
    """``multiprocess_executor`` config of a tick build run in one machine or container."""
    return {
        "max_concurrent": settings.tick_max_concurrent,
        "start_method": {"forkserver": {"preload_modules": list(TICK_PRELOAD)}},
    }


# ------------------------------------------------------------------ exited step containers


def step_container_names(run_id: str, attempts: Mapping[str, int]) -> list[str]:
    """Names dagster-docker gives a run's step containers (``DockerStepHandler``: one per step
    and retry, ``dagster-step-<hash(run_id + step_key)>[-<retry>]``)."""
    from dagster_shared.serdes.utils import hash_str

    names = []
    for step_key, count in sorted(attempts.items()):
        base = f"dagster-step-{hash_str(run_id + step_key)}"
        names += [base] + [f"{base}-{retry}" for retry in range(1, max(count, 1))]
    return names


def remove_exited_step_containers(client: Any, names: list[str], wait_s: float = 30.0) -> list[str]:
    """Remove those of ``names`` that exist and have exited; returns the removed names.
    dagster-docker never removes step containers, and ``auto_remove`` would race its health
    check (a vanished container reads as a failed step). Called once the run is over, so a
    container still ``running`` is only finishing its exit: wait up to ``wait_s`` for it."""
    import docker

    removed = []
    for name in names:
        try:
            container = client.containers.get(name)
            if container.status == "running":
                container.wait(timeout=wait_s)
                container.reload()
        except (docker.errors.NotFound, docker.errors.APIError):
            continue
        except Exception:  # wait() timed out: a step still alive after its run ended; leave it
            continue
        if container.status in {"exited", "dead", "created", "stopped"}:
            container.remove(v=True)
            removed.append(name)
    return removed


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="training_containers_cleanup_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="Removes a finished training run's exited step containers (prod).",
)
def training_containers_cleanup_sensor(context: dg.RunStatusSensorContext) -> dg.SkipReason:
    return _cleanup(context)


@dg.run_failure_sensor(
    name="training_containers_cleanup_on_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Removes a failed training run's exited step containers (prod).",
)
def training_containers_cleanup_on_failure_sensor(
    context: dg.RunFailureSensorContext,
) -> dg.SkipReason:
    return _cleanup(context)


def _cleanup(context: dg.RunStatusSensorContext) -> dg.SkipReason:
    run = context.dagster_run
    if run.tags.get("quant/gpu") != "1":  # only train_policy runs use the docker executor
        return dg.SkipReason("not a containerised training run")
    import docker

    stats = context.instance.get_run_step_stats(run.run_id)
    attempts = {s.step_key: int(s.attempts or 1) for s in stats}
    client = docker.from_env()  # type: ignore[attr-defined]  # DOCKER_HOST (podman: unix:///run/podman/podman.sock)
    removed = remove_exited_step_containers(client, step_container_names(run.run_id, attempts))
    return dg.SkipReason(f"removed {len(removed)} exited step container(s)")
