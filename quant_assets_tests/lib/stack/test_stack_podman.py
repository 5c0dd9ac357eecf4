"""The podman runner of the compose reader, on real containers (the local Debian base image)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from quant_assets.lib.stack import ComposeProject, PodmanStack, StackError

BASE = "localhost/quant-base:bookworm"
CONF = Path.home() / ".cache" / "quant-platform" / "services" / "podman" / "containers.conf"


REPO = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman (root) is needed"),
]


@pytest.fixture(scope="module", autouse=True)
def base_image() -> None:
    """Podman installed and the local Debian base image built (cached after the first time)."""
    out = subprocess.run(
        [str(REPO / "scripts" / "services" / "podman.sh"), "build-base-image"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]


COMPOSE = f"""
services:
  job:
    image: {BASE}
    command: ["bash", "-c", "test -f /data/second && exit 0; touch /data/second; exit 3"]
    restart: on-failure:5
    volumes: [data:/data]
  app:
    image: {BASE}
    command: ["bash", "-c", "sleep 2; touch /tmp/ready; exec sleep 600"]
    depends_on:
      job: {{condition: service_completed_successfully}}
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 1s
      retries: 30
  never:
    image: {BASE}
    profiles: [broken]
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
volumes:
  data:
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[PodmanStack]:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    project = ComposeProject.load(path, {}, f"qunit-{uuid.uuid4().hex[:8]}")
    env = {**os.environ}
    if CONF.is_file():
        env.setdefault("CONTAINERS_CONF", str(CONF))
    runner = PodmanStack(project, tmp_path / "state", env=env)
    try:
        yield runner
    finally:
        runner.down(volumes=True)
        assert not runner.ps() and not runner.volumes()


def test_podman_stack_one_shot_job_retried_then_dependent_healthy(stack: PodmanStack) -> None:
    stack.up(wait=True, timeout_s=120)
    states = {c.service: c for c in stack.ps()}
    assert (states["job"].status, states["job"].exit_code) == ("exited", 0)  # after one retry
    assert states["app"].status == "running"
    assert stack.volumes() == [stack.project.volume("data")]


def test_podman_stack_failing_healthcheck_raises_after_timeout(stack: PodmanStack) -> None:
    started = time.monotonic()
    with pytest.raises(StackError, match="never: not service_healthy in time"):
        stack.up(["broken"], ["never"], timeout_s=5)
    assert time.monotonic() - started < 60


def test_podman_stack_down_with_volumes_leaves_nothing(stack: PodmanStack) -> None:
    stack.up(wait=True, timeout_s=120)
    assert stack.ps() and stack.volumes()
    removed = stack.down(volumes=True)
    assert len(removed) == 2
    assert not stack.ps() and not stack.volumes()
