"""Blue/green deploys against real processes: two (or more) ``dagster api grpc`` code servers,
a ``dagster-webserver`` and a ``dagster-daemon`` on a throwaway instance.

The scenario runs once per module (it takes ~3 min): blue serves v1 and its sensor starts a
30 s run; v2 is deployed while that run is in flight; a broken v3 is refused; the daemon moves
to green by itself (it re-reads the workspace every 60 s); rollback brings blue back; a branch
is deployed as its own code location. Each test checks one property of what was recorded.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from quant_assets.deploy.deployer import Deployer, DeployOutcome, branch_location
from quant_assets.deploy.webserver import location_errors, served_ports
from quant_assets.lib.deploy import CodeServer, DeployError

HERE = Path(__file__).resolve().parent
LOCATION = "flip"
BRANCH = "feature-x"

# --------------------------------------------------------------------------- fast tests


def test_branch_location_sanitises_branch_name() -> None:
    assert branch_location("feature/new-costs") == "quant_assets--feature-new-costs"
    with pytest.raises(DeployError, match="empty"):
        branch_location("///")


def test_deploy_unknown_ref_raises_and_changes_nothing(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    deployer = Deployer(tmp_path / "deploy")
    with pytest.raises(DeployError, match="rev-parse"):
        deployer.deploy(repo, ref="no-such-ref", location=LOCATION, module="flipdefs")
    assert not deployer.state_path.exists()
    assert not deployer.workspace_path.exists()


# --------------------------------------------------------------------------- helpers


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def _commit_version(repo: Path, version: str, extra: str = "") -> None:
    text = (
        (HERE / "flip_location.py").read_text().replace('VERSION = "v1"', f'VERSION = "{version}"')
    )
    (repo / "flipdefs.py").write_text(text + extra)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", version)
    _git(repo, "tag", version)


def _git_repo(path: Path) -> Path:
    """v1, v2, v3-broken (raises on import) on main; feature-x branches off v1."""
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    _commit_version(path, "v1")
    _git(path, "branch", BRANCH)
    _commit_version(path, "v2")
    _commit_version(path, "v3-broken", '\nraise RuntimeError("broken build")\n')
    _git(path, "checkout", "-q", BRANCH)
    _commit_version(path, "feature")
    _git(path, "checkout", "-q", "main")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(url: str, query: str) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        body: dict[str, Any] = json.load(resp)
    return body["data"]


def _ticks(url: str) -> list[dict[str, Any]]:
    query = f"""query {{ sensorOrError(sensorSelector: {{repositoryLocationName: "{LOCATION}",
      repositoryName: "__repository__", sensorName: "tick_sensor"}}) {{ __typename
      ... on Sensor {{ sensorState {{ ticks(limit: 2000) {{ timestamp status cursor }} }} }}
      }} }}"""
    data = _graphql(url, query)["sensorOrError"]
    return sorted(data["sensorState"]["ticks"], key=lambda t: t["timestamp"])


def _wait(what: str, predicate: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --------------------------------------------------------------------------- scenario


@dataclass
class Flip:
    url: str
    deployer: Deployer
    blue: CodeServer
    green: DeployOutcome
    broken: DeployOutcome
    workspace_before_broken: str
    workspace_after_broken: str
    ports_after_broken: dict[str, int | None]
    switched_at: float
    rolled_back_to: CodeServer
    ports_after_rollback: dict[str, int | None]
    branch: DeployOutcome
    ports_after_branch: dict[str, int | None]
    load_errors: dict[str, str]
    ticks: list[dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def flip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flip]:
    import dagster as dg

    tmp = tmp_path_factory.mktemp("bluegreen")
    repo = _git_repo(tmp / "repo")
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "FLIP_RUN_SECONDS")}
    os.environ.update({"DAGSTER_HOME": str(home), "FLIP_RUN_SECONDS": "30"})
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    deployer = Deployer(tmp / "deploy", ports=(4310, 4399))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = deployer.deploy(repo, ref="v1", location=LOCATION, module="flipdefs")
        assert first.switched, first.error
        assert first.server is not None
        blue = first.server
        bin_dir = Path(sys.executable).parent
        env = dict(os.environ)
        ws = str(deployer.workspace_path)
        procs.append(
            _spawn(
                [str(bin_dir / "dagster-webserver"), "-w", ws, "-h", "127.0.0.1", "-p", str(port)],
                env,
                tmp / "webserver.log",
            )
        )
        procs.append(
            _spawn([str(bin_dir / "dagster-daemon"), "run", "-w", ws], env, tmp / "daemon.log")
        )
        _wait("webserver", lambda: _try(lambda: served_ports(url).get(LOCATION)), 120)
        deployer.webserver_url = url

        instance = dg.DagsterInstance.get()
        done = {
            dg.DagsterRunStatus.SUCCESS,
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED,
        }

        def runs_by(prefix: str, statuses: set[dg.DagsterRunStatus] | None = None) -> list[Any]:
            return [
                r
                for r in instance.get_run_records()
                if r.dagster_run.tags.get("served_by", "").startswith(prefix)
                and (statuses is None or r.dagster_run.status in statuses)
            ]

        _wait("blue's run to start", lambda: runs_by("v1:", {dg.DagsterRunStatus.STARTED}), 180)
        green = deployer.deploy(repo, ref="v2", location=LOCATION, module="flipdefs")
        switched_at = time.time()
        before = deployer.workspace_path.read_text()
        broken = deployer.deploy(repo, ref="v3-broken", location=LOCATION, module="flipdefs")
        after = deployer.workspace_path.read_text()
        ports_after_broken = served_ports(url)
        # The daemon re-reads the workspace every 60 s: then green evaluates the sensor.
        _wait(
            "a sensor tick served by green",
            lambda: any((t["cursor"] or "").startswith("v2:") for t in _ticks(url)),
            240,
        )
        _wait("green's run to finish", lambda: runs_by("v2:", done), 240)
        _wait("blue's run to finish", lambda: runs_by("v1:", done), 120)
        rolled_back_to = deployer.rollback(LOCATION)
        ports_after_rollback = served_ports(url)
        branch = deployer.deploy(
            repo, ref=BRANCH, location=branch_location(BRANCH), module="flipdefs"
        )
        ports_after_branch = served_ports(url)
        load_errors = location_errors(url)
        runs = [
            {
                "served_by": r.dagster_run.tags.get("served_by"),
                "status": r.dagster_run.status.value,
                "start": r.start_time,
                "end": r.end_time,
            }
            for r in instance.get_run_records()
        ]
        yield Flip(
            url=url,
            deployer=deployer,
            blue=blue,
            green=green,
            broken=broken,
            workspace_before_broken=before,
            workspace_after_broken=after,
            ports_after_broken=ports_after_broken,
            switched_at=switched_at,
            rolled_back_to=rolled_back_to,
            ports_after_rollback=ports_after_rollback,
            branch=branch,
            ports_after_branch=ports_after_branch,
            load_errors=load_errors,
            ticks=_ticks(url),
            runs=runs,
        )
    finally:
        for proc in procs:
            _stop(proc)
        deployer.webserver_url = None
        for name in list(deployer.state().locations):
            deployer.undeploy(name)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(tmp / "deploy" / "checkouts", ignore_errors=True)


def _try(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None


@pytest.mark.slow
def test_deploy_healthy_green_switches_webserver_and_keeps_blue_warm(flip: Flip) -> None:
    assert flip.green.switched, flip.green.error
    assert flip.green.server is not None
    assert flip.green.server.port != flip.blue.port
    assert flip.ports_after_broken[LOCATION] == flip.green.server.port
    assert [c.name for c in flip.green.report.checks] == ["definitions"]


@pytest.mark.slow
def test_deploy_across_flip_no_failed_run(flip: Flip) -> None:
    assert flip.runs, "no runs recorded"
    assert {r["status"] for r in flip.runs} == {"SUCCESS"}, flip.runs
    blue_runs = [r for r in flip.runs if r["served_by"].startswith("v1:")]
    # The blue run was in flight when the workspace switched, and still succeeded.
    assert any(r["start"] < flip.switched_at < r["end"] for r in blue_runs), blue_runs
    assert any(r["served_by"].startswith("v2:") for r in flip.runs)


@pytest.mark.slow
def test_deploy_across_flip_no_lost_sensor_tick(flip: Flip) -> None:
    ticks = flip.ticks
    assert not [t for t in ticks if t["status"] == "FAILURE"]
    servers = [(t["cursor"] or "").split(":")[0] for t in ticks]
    assert "v1" in servers and "v2" in servers
    around = [t["timestamp"] for t in ticks if abs(t["timestamp"] - flip.switched_at) < 120]
    gaps = [b - a for a, b in itertools.pairwise(around)]
    print(
        f"\nticks {len(ticks)} (blue {servers.count('v1')}, green {servers.count('v2')}); "
        f"{len(around)} within 120 s of the switch, largest gap {max(gaps, default=0):.1f}s; "
        f"runs {len(flip.runs)}: {sorted(r['status'] for r in flip.runs)}"
    )
    assert around and max(gaps) < 30, f"largest gap between sensor ticks {max(gaps):.1f}s"


@pytest.mark.slow
def test_deploy_failed_health_check_leaves_serving_server(flip: Flip) -> None:
    assert not flip.broken.switched
    assert "broken build" in (flip.broken.error or "")
    assert flip.workspace_after_broken == flip.workspace_before_broken
    assert flip.ports_after_broken[LOCATION] == flip.green.server.port  # type: ignore[union-attr]
    # The broken server's process is gone (it failed to load) and is not recorded anywhere.
    recorded = {s.port for loc in flip.deployer.state().locations.values() for s in loc.servers()}
    assert len(recorded) == 3  # blue, green and the branch server


@pytest.mark.slow
def test_rollback_restores_blue(flip: Flip) -> None:
    assert flip.rolled_back_to == flip.blue
    assert flip.ports_after_rollback[LOCATION] == flip.blue.port


@pytest.mark.slow
def test_branch_deploy_adds_its_own_code_location(flip: Flip) -> None:
    assert flip.branch.switched, flip.branch.error
    assert flip.branch.server is not None
    assert flip.ports_after_branch == {
        LOCATION: flip.blue.port,
        branch_location(BRANCH): flip.branch.server.port,
    }
    assert flip.load_errors == {}  # both locations load in the webserver
