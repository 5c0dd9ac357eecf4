"""Symbol-chunk steps of one market-session run in separate containers (``docker_executor`` on
Podman), as a cluster runs them in separate pods (``k8s_job_executor``).

The run is the prod architecture in small: chunk containers write their objects to S3
(SeaweedFS) and never open the warehouse; the commit container writes the manifest to
TimescaleDB. The image is the platform's own (``localhost/quant-platform:cpu-offline``, built by
``scripts/build_images.sh --offline``); the repository is bind-mounted over its code, and the
Dagster instance (SQLite) is a bind-mounted temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from test_docker_executor import _step_container_ids, container_logs, podman_docker_host
from tick_container_job import tick_job_in_containers

from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import manifest
from resources.docker_executor import (
    TICK_IMAGE_ENV,
    docker_executor_config,
)
from resources.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/quant-platform:cpu-offline"
KEY = "2024-01-02|XNYS"


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """DOCKER_HOST of the Podman API service, with the platform image present."""
    import docker

    host = podman_docker_host()
    client = docker.DockerClient(base_url=host)  # type: ignore[attr-defined]
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{IMAGE} not built (scripts/build_images.sh --offline --tag {IMAGE})")
    finally:
        client.close()
    yield host


def _chunk_outputs(result: dg.ExecuteJobResult) -> dict[str, dict[str, Any]]:
    return {
        str(event.step_key): {
            k: v.value
            for k, v in event.step_output_data.metadata.items()  # type: ignore[union-attr]
        }
        for event in result.all_events
        if event.is_successful_output and "build_chunk[" in (event.step_key or "")
    }


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_tick_lake_docker_executor_symbol_chunks_run_in_separate_containers(
    docker_host: str,
    tmp_path: Path,
    s3_server: Any,
    s3_bucket: str,
    tsdb_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docker

    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        "QUANT_DEPLOYMENT": "prod",
        "QUANT_S3_BUCKET": s3_bucket,
        "QUANT_TSDB_DSN": tsdb_database,
        TICK_IMAGE_ENV: IMAGE,
        **s3_server.env(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # env_vars holds names; values come from this process
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    config = docker_executor_config(env, gpus=False, image_env=TICK_IMAGE_ENV, max_concurrent=2)
    pythonpath = os.pathsep.join([str(REPO_ROOT), str(Path(__file__).resolve().parent)])
    config["env_vars"] += [f"PYTHONPATH={pythonpath}", f"DAGSTER_HOME={home}"]
    config["network"] = "host"  # S3 and TimescaleDB listen on the host's 127.0.0.1
    config["container_kwargs"].update(
        {
            "volumes": {
                str(tmp_path): {"bind": str(tmp_path), "mode": "rw"},
                str(REPO_ROOT): {"bind": str(REPO_ROOT), "mode": "ro"},
            },
            "working_dir": str(REPO_ROOT),
            "user": "0:0",  # the image's user cannot enter pytest's 0700 tmp directories
        }
    )
    client = docker.DockerClient(base_url=docker_host)  # type: ignore[attr-defined]
    ids: dict[str, str] = {}
    try:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            instance.add_dynamic_partitions("symbols", ["SYNA", "SYNB"])
            result = dg.execute_job(
                dg.reconstructable(tick_job_in_containers),
                instance=instance,
                tags={"dagster/partition": KEY},
                run_config={
                    "execution": {"config": config},
                    "ops": {
                        "tick_lake_build": {
                            "config": {"synthetic_ticks_per_session": 300, "chunk_size": 1}
                        }
                    },
                },
                raise_on_error=False,
            )
            ids = _step_container_ids(result)
            logs = container_logs(client, ids)
            assert result.success, f"run failed; container logs: {json.dumps(logs, indent=1)}"
            chunks = _chunk_outputs(result)
    finally:
        for cid in ids.values():
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(cid).remove(force=True)
        client.close()

    chunk_keys = sorted(k for k in ids if "build_chunk[" in k)
    assert chunk_keys == [
        "tick_lake_build.build_chunk[d20240102_XNYS_c00000]",
        "tick_lake_build.build_chunk[d20240102_XNYS_c00001]",
    ]
    assert len({ids[k] for k in chunk_keys}) == 2, "each chunk step gets its own container"
    assert len(set(ids.values())) == len(ids) == 4  # plan, two chunks, commit
    # the step worker is PID 1 of its own PID namespace in both chunk containers
    assert [chunks[k]["worker_pid"] for k in chunk_keys] == [1, 1]
    # the commit container wrote the manifest to TimescaleDB, the chunks their objects to S3
    settings = Settings.from_env(env)
    wh = WarehouseResource.from_settings(settings).get_warehouse()
    entries = manifest.read(wh, market="XNYS")
    assert sorted(e.symbol for e in entries) == ["SYNA", "SYNB"]
    assert all(e.run_id == result.run_id and e.raw_rows > 0 for e in entries)
