"""The containerised step path, on a real container engine: ``docker_executor`` over Podman.

``scripts/services/podman.sh`` starts rootful Podman with a Docker-compatible API socket and builds
``quant-runtime:test`` locally (no registry needed). A two-asset job then runs with
``dagster_docker.docker_executor``: each step is a container running ``dagster api execute_step``.

How the step reaches the run's state and code:
  * instance: a filesystem (SQLite) DAGSTER_HOME in ``tmp_path``, bind-mounted read-write into the
    container at the same path (the serialized step args carry that path);
  * code: the repository, bind-mounted read-only at its host path, with ``PYTHONPATH`` pointing at
    it; the job's code pointer is this very file, so the image carries dagster, dagster-docker and
    pytest (imported at the top of this module) but not the project.

The assets record where they ran; the test checks that it is the container the executor reported
(its id in ``/proc/self/cgroup``), with the image's interpreter and the step worker as PID 1 —
not the test process's machine (which may itself be a container, so that is compared, not assumed).

This module is imported inside the container as well (code pointer): keep imports to dagster,
dagster_docker, docker, pytest, the stdlib and ``resources``/``quant_assets.lib.settings``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from resources.docker_executor import (
    docker_executor_config,
    remove_exited_step_containers,
    step_container_names,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
PODMAN_SCRIPT = REPO_ROOT / "scripts" / "services" / "podman.sh"
IMAGE = os.environ.get("QUANT_RUNTIME_IMAGE", "quant-runtime:test")
IMAGE_VENV = "/opt/venv/"

# --------------------------------------------------------------------------- the job (both sides)


def _where_am_i() -> dict[str, Any]:
    """Facts that tell a container from the host."""
    containerenv = Path("/run/.containerenv")
    pid1 = Path("/proc/1/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return {
        "hostname": os.uname().nodename,
        "executable": sys.executable,
        "pid1_cmdline": " ".join(pid1.split()[:4])[:300],
        "containerenv": containerenv.read_text() if containerenv.exists() else None,
        "dockerenv": Path("/.dockerenv").exists(),
        "cgroup": Path("/proc/self/cgroup").read_text()[:2000],
    }


@dg.asset
def where_am_i() -> dg.Output[dict[str, Any]]:
    from quant_assets.lib.settings import Settings  # project code, from the read-only mount

    facts = _where_am_i()
    settings = Settings.from_env()  # QUANT_* arrive by name through the executor's env_vars
    facts["deployment"] = settings.deployment.value
    facts["data_root"] = str(settings.data_root)
    return dg.Output(facts, metadata={"facts": dg.MetadataValue.json(facts)})


@dg.asset
def downstream(where_am_i: dict[str, Any]) -> dg.Output[dict[str, Any]]:
    """Reads the upstream output through the shared filesystem IO manager, in another container."""
    facts = _where_am_i()
    facts["upstream_data_root"] = where_am_i["data_root"]
    return dg.Output(facts, metadata={"facts": dg.MetadataValue.json(facts)})


def container_job() -> dg.JobDefinition:
    """Reconstructable on both sides; the executor config comes in through the run config."""
    from dagster_docker import docker_executor

    defs = dg.Definitions(
        assets=[where_am_i, downstream],
        jobs=[dg.define_asset_job("container_job", executor_def=docker_executor)],
    )
    return defs.resolve_job_def("container_job")


# --------------------------------------------------------------------------- host-side plumbing


def _podman_unavailable_reason() -> str | None:
    """Why rootful Podman cannot run here at all (then skip), or None (then any failure fails)."""
    if not sys.platform.startswith("linux"):
        return f"rootful podman needs Linux (platform {sys.platform})"
    if os.geteuid() != 0:
        return "rootful podman (and apt-get install of it) needs root; run the slow tests as root"
    if shutil.which("apt-get") is None and shutil.which("podman") is None:
        return "podman is not installed and there is no apt-get to install it"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return (
            "this kernel/sandbox refuses new mount/pid/uts/ipc namespaces, which every container "
            f"needs (unshare: {probe.stderr.strip()})"
        )
    return None


def _script(command: str, timeout_s: float) -> str:
    proc = subprocess.run(
        ["bash", str(PODMAN_SCRIPT), command],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{PODMAN_SCRIPT} {command} failed ({proc.returncode})\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


def podman_docker_host() -> str:
    """DOCKER_HOST of the Podman API service, started if needed (skips where Podman cannot run)."""
    reason = _podman_unavailable_reason()
    if reason:
        pytest.skip(reason)
    out = _script("start", timeout_s=600)
    host = next(line for line in out.splitlines() if line.startswith("DOCKER_HOST="))
    return host.split("=", 1)[1]


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """DOCKER_HOST of a running Podman API service with ``quant-runtime:test`` built."""
    host = podman_docker_host()
    _script("build-base-image", timeout_s=1200)  # cached layers: a few seconds when warm
    yield host


def container_logs(client: Any, ids: dict[str, str], tail: int = 4000) -> dict[str, str]:
    """The last ``tail`` characters of each step container's log, for a failure message."""
    return {
        key: client.containers.get(cid).logs().decode(errors="replace")[-tail:]
        for key, cid in ids.items()
    }


def _step_container_ids(result: dg.ExecuteJobResult) -> dict[str, str]:
    ids: dict[str, str] = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_WORKER_STARTING" and event.step_key:
            metadata = event.event_specific_data.metadata  # type: ignore[union-attr]
            ids[event.step_key] = str(metadata["Docker container id"].value)
    return ids


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_docker_executor_podman_steps_run_in_containers(
    docker_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    home = tmp_path / "dagster_home"
    data_root = tmp_path / "data"
    home.mkdir()
    data_root.mkdir()
    env = {
        "QUANT_TRAINING_IMAGE": IMAGE,
        "QUANT_DEPLOYMENT": "local",
        "QUANT_DATA_ROOT": str(data_root),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # env_vars holds names; values come from this process
    monkeypatch.setenv("DOCKER_HOST", docker_host)

    config = docker_executor_config(env, gpus=False)
    # The code pointer names this module the way pytest imported it (rootdir-relative
    # `test_docker_executor`, or `quant_assets_tests.test_docker_executor`): both dirs on the path.
    pythonpath = os.pathsep.join([str(REPO_ROOT), str(Path(__file__).resolve().parent)])
    config["env_vars"] += [f"PYTHONPATH={pythonpath}", f"DAGSTER_HOME={home}"]
    config["network"] = "host"  # no bridge/iptables needed; the steps only use files
    config["container_kwargs"].update(
        {
            "volumes": {
                str(tmp_path): {"bind": str(tmp_path), "mode": "rw"},
                str(REPO_ROOT): {"bind": str(REPO_ROOT), "mode": "ro"},
            },
            "working_dir": str(REPO_ROOT),
        }
    )
    client = docker.DockerClient(base_url=docker_host)  # type: ignore[attr-defined]
    started = time.monotonic()
    ids: dict[str, str] = {}
    try:
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = dg.execute_job(
                dg.reconstructable(container_job),
                instance=instance,
                run_config={"execution": {"config": config}},
                raise_on_error=False,
            )
            ids = _step_container_ids(result)
            logs = container_logs(client, ids)
            assert result.success, f"run failed; container logs: {json.dumps(logs, indent=1)}"
            facts: dict[str, dict[str, Any]] = {
                mat.asset_key.to_user_string(): dict(mat.metadata["facts"].value)  # type: ignore[arg-type]
                for node in ("where_am_i", "downstream")
                for mat in result.asset_materializations_for_node(node)
            }
            # the prod cleanup sensor's helpers find and remove exactly these exited containers
            stats = instance.get_run_step_stats(result.run_id)
            names = step_container_names(
                result.run_id, {s.step_key: s.attempts or 1 for s in stats}
            )
            removed = remove_exited_step_containers(client, names)
            assert len(removed) == 2, (names, removed)
            for cid in ids.values():
                with pytest.raises(docker.errors.NotFound):
                    client.containers.get(cid)
            removed_ids, ids = ids, {}
    finally:
        for cid in ids.values():
            client.containers.get(cid).remove(force=True)
        client.close()
    elapsed = time.monotonic() - started
    print(f"docker_executor run: {elapsed:.1f} s; facts: {json.dumps(facts, indent=1)}")

    ids = removed_ids
    assert set(ids) == {"where_am_i", "downstream"}
    assert len(set(ids.values())) == 2, "each step gets its own container"
    host = _where_am_i()
    # The host may itself be a container (CI, dev sandboxes: /.dockerenv), so compare rather than
    # require a bare host: the facts must name the step's own container and differ from ours.
    for key, step in facts.items():
        assert step["executable"].startswith(IMAGE_VENV), key
        assert step["executable"] != host["executable"], key
        assert step["containerenv"] is not None or step["dockerenv"], f"{key}: no engine marker"
        # cgroup v1 / host cgroupns: the path names the container; private cgroupns: the hostname
        # is the short id (unless network=host, as here).
        assert (
            ids[key] in step["cgroup"] or step["hostname"] == ids[key][:12]
        ), f"{key}: not in container {ids[key]}: {step}"
        assert "execute_step" in step["pid1_cmdline"], step["pid1_cmdline"]
        assert step["pid1_cmdline"] != host["pid1_cmdline"]
    assert facts["where_am_i"]["deployment"] == "local"
    assert facts["where_am_i"]["data_root"] == str(data_root)
    assert facts["downstream"]["upstream_data_root"] == str(data_root)
