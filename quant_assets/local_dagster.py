"""`dagster dev` as a child process of the CLI: started in its own session, reached over GraphQL,
stopped with every process it started (webserver, daemon, code servers, run workers) in ≤ 10 s.

``quant ui`` runs it in the foreground; ``quant demo`` runs it headless and submits the real jobs
and backfills to it, so the runs, tags and sensor cursors are the ones a later ``quant ui`` sees.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from quant_assets.lib.processes import session_members

REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_BUDGET_S = 10.0  # Ctrl-C to the last process gone
GRACE_S = 6.0  # of which dagster dev gets this long to shut down cleanly

READY_QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy } } }
}
"""


class DagsterDevError(RuntimeError):
    """dagster dev did not start, or a GraphQL call failed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dagster_dev_command(args: Sequence[str] = ()) -> list[str]:
    """``dagster dev`` of this interpreter; the code location comes from pyproject [tool.dg]."""
    return [str(Path(sys.executable).with_name("dagster")), "dev", *args]


@dataclass
class DagsterDev:
    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(
        cls,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        output: IO[bytes] | int | None = None,
    ) -> DagsterDev:
        port = port or free_port()
        process = subprocess.Popen(
            dagster_dev_command(["-p", str(port), "-h", "127.0.0.1", *args]),
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,  # its own session: stop() reaches every descendant
        )
        return cls(process, f"http://127.0.0.1:{port}/graphql")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload: dict[str, Any] = json.loads(response.read())
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {payload['errors']}")
        data: dict[str, Any] = payload["data"]
        return data

    def wait_ready(self, timeout_s: float = 300.0) -> str:
        """Until the code location is loaded and the sensor daemon healthy; its name."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterDevError(f"dagster dev exited with {self.process.returncode}")
            try:
                data = self.graphql(READY_QUERY)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1.0)
                continue
            entries = data["workspaceOrError"].get("locationEntries", [])
            for e in entries:
                if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError":
                    raise DagsterDevError(
                        f"code location failed to load: {e['locationOrLoadError']}"
                    )
            loaded = [e["name"] for e in entries if e["loadStatus"] == "LOADED"]
            daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
            if loaded and any(d["daemonType"] == "SENSOR" and d["healthy"] for d in daemons):
                return str(loaded[0])
            time.sleep(1.0)
        raise DagsterDevError(f"dagster dev not ready in {timeout_s:.0f}s")

    def stop(self, budget_s: float = STOP_BUDGET_S) -> list[int]:
        """Ctrl-C to dagster dev (it shuts its children down), then TERM and KILL whatever of its
        session is left, all within ``budget_s``; returns the pids still alive (none)."""
        return stop_session(self.process, budget_s)


def stop_session(process: subprocess.Popen[bytes], budget_s: float = STOP_BUDGET_S) -> list[int]:
    sid = process.pid  # start_new_session: the session id is the leader's pid
    started = time.monotonic()
    steps = (
        (signal.SIGINT, GRACE_S),
        (signal.SIGTERM, budget_s - GRACE_S - 1.5),
        (signal.SIGKILL, 1.0),
    )
    for sig, grace in steps:
        members = session_members(sid)
        if not members:
            break
        for pid in members if sig != signal.SIGINT else [sid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = min(time.monotonic() + grace, started + budget_s)
        while time.monotonic() < deadline and session_members(sid):
            process.poll()
            time.sleep(0.1)
    process.poll()
    return session_members(sid)
