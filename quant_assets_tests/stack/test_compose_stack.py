"""docker/compose.yaml's platform brought up for real with Podman and locally built images
(TimescaleDB, Postgres for the instance, SeaweedFS, the user-code gRPC server, webserver,
daemon; Grafana has no offline build, see README), then destroyed with its volumes and
re-created from the repository alone plus a backup:

smoke flow (land a file → clean partition → metric through ``metrics_minute``, and the
webserver's code location loaded) → ``quant backup`` to a folder outside the stack → ``down
--volumes`` → ``scripts/stack/recreate.sh`` (re-create, restore, smoke flow again) → the restored
lake objects, manifest and metrics are those backed up. Every container, volume and network the
test created is removed at the end, also on failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from quant_assets.lib.storage.object_store import ObjectStore, S3Location

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO.parent / "shared" / "data" / "ticks" / "databento_python"
FIRST = VENDOR / "XNAS.ITCH" / "test_data.trades.dbn.zst"
SECOND = VENDOR / "EQUS.MINI" / "test_data.trades.dbn.zst"
COMPOSE = [
    sys.executable,
    str(REPO / "scripts" / "stack" / "podman_compose.py"),
    "--env-file",
    str(REPO / "docker" / "stack-local.env"),
    "--profile",
    "platform",
]
MANIFEST = "SELECT session_date, symbol, raw_key, clean_key FROM tick_manifest ORDER BY 1, 2"
TRANSIENT = ("landing/staged/", "landing/incoming/")
PLATFORM = {"timescaledb", "dagster-db", "s3", "user-code", "webserver", "daemon"}

# The TimescaleDB image is the Debian chroot scripts/services/timescaledb.sh builds on Debian 12
# (the session's TimescaleDB runs from it); podman itself is installed by the image script.
ROOTFS = Path.home() / ".cache" / "quant-platform" / "services" / "tsdb-rootfs"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the stack runs on rootful podman (root)"),
    pytest.mark.skipif(
        not list(Path(os.environ.get("TORCH_WHEELS", "/opt/wheels")).glob("torch-*+cpu-*.whl")),
        reason="no local torch CPU wheel (TORCH_WHEELS, /opt/wheels) for the offline platform "
        "image build (scripts/build_images.sh --offline)",
    ),
    pytest.mark.skipif(
        not (ROOTFS / ".quant-rootfs-complete").is_file(),
        reason=f"no {ROOTFS} to build the TimescaleDB image from (Debian 12: "
        "scripts/services/timescaledb.sh start builds it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    env: dict[str, str]
    project: str

    def run(self, *cmd: str, timeout: float = 1200) -> str:
        out = subprocess.run(
            list(cmd), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, f"{cmd[:3]}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    def compose(self, *args: str, timeout: float = 1200) -> str:
        return self.run(*COMPOSE, *args, timeout=timeout)

    def labelled(self, kind: str) -> list[str]:
        """Containers (``ps``) or volumes (``volume``) still carrying the project's label."""
        label = f"label=com.docker.compose.project={self.project}"
        cmd = ["podman", "ps", "-a", "-q"] if kind == "ps" else ["podman", "volume", "ls", "-q"]
        return self.run(*cmd, "--filter", label).split()

    @property
    def dsn(self) -> str:
        pw = self.env["QUANT_TSDB_PASSWORD"]
        return f"postgresql://quant:{pw}@127.0.0.1:{self.env['QUANT_STACK_TSDB_PORT']}/quant"

    def lake(self) -> ObjectStore:
        return ObjectStore.s3(
            S3Location(
                bucket="quant-lake",
                endpoint_url=f"http://127.0.0.1:{self.env['QUANT_STACK_S3_PORT']}",
                region="us-east-1",
                access_key=self.env["QUANT_S3_ACCESS_KEY"],
                secret_key=self.env["QUANT_S3_SECRET_KEY"],
            )
        )


@pytest.fixture
def stack() -> Iterator[Stack]:
    project = f"qstack-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "COMPOSE_PROJECT_NAME": project,
        "QUANT_STACK_ENGINE": "podman",
        # Throwaway credentials made here, so the test holds no secret-looking constant.
        "QUANT_TSDB_PASSWORD": uuid.uuid4().hex,
        "DAGSTER_PG_PASSWORD": uuid.uuid4().hex,
        "QUANT_S3_ACCESS_KEY": f"k{uuid.uuid4().hex[:12]}",
        "QUANT_S3_SECRET_KEY": uuid.uuid4().hex,
    }
    for name in ("TSDB", "S3", "WEBSERVER", "GRAFANA"):
        env[f"QUANT_STACK_{name}_PORT"] = str(_free_port())
    handle = Stack(env, project)
    try:
        yield handle
    finally:
        handle.compose("down", "--volumes", timeout=300)
        assert not handle.labelled("ps") and not handle.labelled("volume")


def _snapshot(
    stack: Stack,
) -> tuple[dict[str, str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    lake = stack.lake()
    objects = {k: hashlib.sha256(lake.read_bytes(k)).hexdigest() for k in lake.list("")}
    with psycopg.connect(stack.dsn) as conn:
        metrics = conn.execute("SELECT * FROM metrics").fetchall()
        manifest = conn.execute(MANIFEST).fetchall()
    return objects, metrics, manifest


def test_compose_stack_destroyed_and_recreated_from_repo_restores_and_smokes(
    stack: Stack, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    stack.run(str(REPO / "scripts" / "stack" / "build_service_images.sh"), timeout=3600)
    t_images = time.monotonic() - t0

    t0 = time.monotonic()
    stack.compose("up", "--detach", "--wait")
    t_up = time.monotonic() - t0
    states = {line.split()[0]: line.split()[2:] for line in stack.compose("ps").splitlines()}
    assert {s for s, st in states.items() if st[0] == "running"} >= PLATFORM, states
    assert "grafana" not in states  # its own profile

    smoke_env_keys = {
        "QUANT_DEPLOYMENT": "prod",
        "QUANT_S3_BUCKET": "quant-lake",
        "QUANT_TSDB_DSN": stack.dsn,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{stack.env['QUANT_STACK_S3_PORT']}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": stack.env["QUANT_S3_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": stack.env["QUANT_S3_SECRET_KEY"],
        "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
        "QUANT_WEBSERVER_URL": f"http://127.0.0.1:{stack.env['QUANT_STACK_WEBSERVER_PORT']}",
    }
    client = Stack({**stack.env, **smoke_env_keys}, stack.project)
    out = client.run(str(REPO / "scripts" / "qa_smoke.sh"), str(FIRST))
    assert "every code location loaded" in out and "smoke ok" in out, out
    backup = tmp_path / "backup"  # outside the stack: its volumes are destroyed below
    assert "backup " in client.run(
        sys.executable, "-m", "quant_assets.cli", "backup", "--to", str(backup)
    )
    objects, metrics, manifest = _snapshot(stack)
    assert objects and metrics and manifest

    stack.compose("down", "--volumes")
    assert not stack.labelled("ps") and not stack.labelled("volume")

    # Another name than the first file's (both samples are test_data.trades.dbn.zst), so the
    # second smoke flow does not overwrite the restored landing archive.
    second = tmp_path / "equs-mini.trades.dbn.zst"
    shutil.copyfile(SECOND, second)
    t0 = time.monotonic()
    out = stack.run(
        str(REPO / "scripts" / "stack" / "recreate.sh"), str(backup), str(second), timeout=1800
    )
    t_recreate = time.monotonic() - t0
    assert "restored " in out and "every code location loaded" in out and "smoke ok" in out, out

    objects_after, metrics_after, manifest_after = _snapshot(stack)
    # Every durable object is back with the same bytes; staged ticks are transient (the second
    # smoke flow's build of the same market-session consumes them).
    durable = {k: h for k, h in objects.items() if not k.startswith(TRANSIENT)}
    assert durable and {k: objects_after.get(k) for k in durable} == durable
    for _day, _symbol, *keys in manifest:
        assert all(objects_after.get(str(k)) == objects[str(k)] for k in keys if k), keys
    assert set(metrics) <= set(metrics_after)  # restored rows, plus the second smoke run's
    # The restored (session, symbol) entries are still there beside the second build's.
    assert {r[:2] for r in manifest} < {r[:2] for r in manifest_after}
    print(
        f"\ncompose stack: images {t_images:.0f} s, first up {t_up:.0f} s, "
        f"re-create (down, up storage, restore, up platform, smoke) {t_recreate:.0f} s; "
        + " | ".join(line for line in out.splitlines() if line.startswith("recreate:"))
    )
