"""Storage fixtures: a moto S3 server for lifecycle transitions.

SeaweedFS (the S3 server of the other tests) stores lifecycle expirations but answers
``NotImplemented`` to any rule with a storage-class transition (checked by
``test_lifecycle_seaweedfs_transition_rule_rejected_not_implemented``), so lifecycle tests run
against moto's standalone server: a real HTTP S3 endpoint in its own process, reached through
boto3 exactly like AWS, not an in-process mock of boto3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

try:
    from quant_assets_tests.services import free_ports
except ImportError:  # rootdir-relative imports
    from services import free_ports  # type: ignore[no-redef]


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    region: str = "us-east-1"

    def boto3_client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's S3 server on 127.0.0.1 and a free port (``moto[server]`` in the dev extras)."""
    pytest.importorskip("moto.server", reason="moto[server] not installed (dev extras)")
    (port,) = free_ports(1)
    log: Path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    server = MotoServer(endpoint_url=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.endpoint_url + "/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def moto_bucket(moto_s3: MotoServer) -> Iterator[str]:
    """A fresh bucket on the moto server (moto keeps state per process: names never repeat)."""
    client = moto_s3.boto3_client()
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        client.delete_bucket(Bucket=bucket)
