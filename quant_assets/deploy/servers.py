"""Code server processes: a checkout of a git ref, a ``dagster api grpc`` on a port, readiness."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster._grpc.client import DagsterGrpcClient

from quant_assets.lib.deploy import CodeServer, Color, DeployError
from quant_assets.lib.settings import process_environment


@dataclass(frozen=True)
class Target:
    """What to serve: a code location name, a checkout and the definitions inside it."""

    location: str
    ref: str
    commit: str
    working_dir: Path
    module: str = "quant_assets.definitions"
    attribute: str = "defs"


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise DeployError(f"git {' '.join(args)}: {out.stderr.strip().splitlines()[-1:]}")
    return out.stdout.strip()


def checkout(repo: Path, ref: str | None, checkouts: Path) -> tuple[str, str, Path]:
    """(ref, commit, working dir). No ref: the repo's working tree as it is (commit from HEAD,
    ``-dirty`` when it has changes); a ref: a detached ``git worktree`` per commit, reused."""
    if ref is None:
        commit = git(repo, "rev-parse", "HEAD")
        dirty = bool(git(repo, "status", "--porcelain", "--untracked-files=no"))
        return "working-tree", commit + ("-dirty" if dirty else ""), repo.resolve()
    commit = git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    path = checkouts / commit[:12]
    if not (path / ".git").exists():
        checkouts.mkdir(parents=True, exist_ok=True)
        git(repo, "worktree", "add", "--detach", str(path), commit)
    return ref, commit, path.resolve()


def server_env(working_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment with the checkout first on ``PYTHONPATH`` (its code wins over
    any installed copy of the package)."""
    env = dict(process_environment() if base is None else base)
    rest = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(working_dir) + (os.pathsep + rest if rest else "")
    return env


def start_code_server(
    target: Target, color: Color, host: str, port: int, log_dir: Path, *, timeout_s: float = 120
) -> CodeServer:
    """Start ``dagster api grpc`` for ``target`` in its own session and wait until it answers
    with its definitions loaded; raises :class:`DeployError` (process stopped) otherwise."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{target.location.replace('/', '_')}-{color.value}-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "api",
        "grpc",
        "--host",
        host,
        "--port",
        str(port),
        "--module-name",
        target.module,
        "--attribute",
        target.attribute,
        "--working-directory",
        str(target.working_dir),
        "--location-name",
        target.location,
        "--use-python-environment-entry-point",
        "--log-level",
        "warning",
    ]
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=target.working_dir,
            env=server_env(target.working_dir),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = CodeServer(
        location=target.location,
        color=color,
        host=host,
        port=port,
        ref=target.ref,
        commit=target.commit,
        working_dir=str(target.working_dir),
        module=target.module,
        attribute=target.attribute,
        pid=proc.pid,
        started_at=datetime.now(tz=UTC),
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DeployError(
                f"code server for {target.location} exited with {proc.returncode}: "
                f"{_last_error(log)} (log: {log})"
            )
        if ping(server):
            return server
        time.sleep(0.5)
    stop_server(server)
    raise DeployError(f"code server {server.address} not ready after {timeout_s:.0f}s (log: {log})")


def _last_error(log: Path) -> str:
    """The root cause in a server log: the last ``SomeError: message`` line raised by user code
    (Dagster's own wrappers say only "error loading definitions"), else the last line."""
    lines = log.read_text(errors="replace").strip().splitlines()
    errors = [ln.strip() for ln in lines if re.match(r"^\s*[\w.]+(Error|Exception): ", ln)]
    causes = [e for e in errors if not e.startswith("dagster.")]
    return (causes or errors or lines or ["no output"])[-1][:300]


def client(server: CodeServer) -> DagsterGrpcClient:
    return DagsterGrpcClient(host=server.host, port=server.port)


def ping(server: CodeServer) -> bool:
    try:
        client(server).ping("quant-deploy")
    except Exception:
        return False
    return True


def current_runs(server: CodeServer) -> list[str] | None:
    """Run ids the server is executing now; None when it cannot be asked (not serving)."""
    from dagster._grpc.types import GetCurrentRunsResult
    from dagster._serdes import deserialize_value

    try:
        raw = client(server).get_current_runs()
        return list(deserialize_value(raw, GetCurrentRunsResult).current_runs)
    except Exception:
        return None


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop_server(server: CodeServer, *, timeout_s: float = 30) -> None:
    """Ask the server to shut down over gRPC, then SIGTERM / SIGKILL its process group."""
    with contextlib.suppress(Exception):
        client(server).shutdown_server()
    pid = server.pid
    if pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if _wait_gone(pid, timeout_s / 2):
            break
        _signal_group(pid, sig)
    _wait_gone(pid, 5)


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        with contextlib.suppress(ChildProcessError):  # reap it when it is our child
            os.waitpid(pid, os.WNOHANG)
        if time.monotonic() > deadline:
            return not pid_alive(pid)
        time.sleep(0.2)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
