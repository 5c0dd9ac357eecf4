"""Blue/green switch of a code location: start green beside blue, health-check it, switch the
workspace file atomically, keep blue warm for ``rollback``; servers two deploys old are stopped
once they run nothing.

Every change of state happens under one file lock, and the state file is written before the
workspace file derived from it, so a crash between the two is repaired by the next command.
"""

from __future__ import annotations

import fcntl
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from quant_assets.deploy import servers
from quant_assets.deploy.health import check_definitions, health_check
from quant_assets.deploy.servers import Target
from quant_assets.deploy.webserver import reload_workspace
from quant_assets.lib.deploy import (
    CodeServer,
    DeployError,
    DeployState,
    HealthReport,
    load_state,
    pick_port,
    render_workspace,
    save_state,
    write_atomic,
)
from quant_assets.lib.settings import process_environment

DEFAULT_LOCATION = "quant_assets"
DEFAULT_PORTS = (4100, 4199)


def default_root() -> Path:
    """``QUANT_DEPLOY_ROOT``, else ``<QUANT_DATA_ROOT>/deploy`` (local data root default)."""
    explicit = process_environment().get("QUANT_DEPLOY_ROOT")
    if explicit:
        return Path(explicit).expanduser().absolute()
    data_root = process_environment().get("QUANT_DATA_ROOT", ".quant/data")
    return Path(data_root).expanduser().absolute() / "deploy"


def branch_location(branch: str, base: str = DEFAULT_LOCATION) -> str:
    """Code location name of a branch deployment: ``quant_assets--feature-x``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", branch).strip("-")
    if not slug:
        raise DeployError(f"branch name {branch!r} gives an empty location name")
    return f"{base}--{slug}"


@dataclass(frozen=True)
class DeployOutcome:
    location: str
    server: CodeServer | None  # the green server (None: it never started)
    report: HealthReport
    switched: bool
    retired: tuple[CodeServer, ...] = ()
    error: str | None = None


class Deployer:
    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        ports: tuple[int, int] = DEFAULT_PORTS,
        webserver_url: str | None = None,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.root = root
        self.host = host
        self.ports = ports
        self.webserver_url = webserver_url
        self.log = log

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def workspace_path(self) -> Path:
        return self.root / "workspace.yaml"

    def state(self) -> DeployState:
        return load_state(self.state_path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DeployError(f"another deploy holds {self.root / '.lock'}") from None
            yield

    # ------------------------------------------------------------------ commands

    def deploy(
        self,
        repo: Path,
        *,
        ref: str | None = None,
        location: str = DEFAULT_LOCATION,
        module: str = "quant_assets.definitions",
        attribute: str = "defs",
        dry_run_partition: str | None = None,
    ) -> DeployOutcome:
        with self._locked():
            state = self.state()
            ref_name, commit, wd = servers.checkout(repo, ref, self.root / "checkouts")
            target = Target(location, ref_name, commit, wd, module, attribute)
            color = state.next_color(location)
            port = self._free_port(state)
            self.log(f"starting {color.value} {location} @ {commit[:12]} on {self.host}:{port}")
            try:
                green = servers.start_code_server(
                    target, color, self.host, port, self.root / "logs"
                )
            except DeployError as exc:
                return DeployOutcome(location, None, HealthReport([]), False, error=str(exc))
            report = health_check(green, dry_run_partition)
            self.log(f"health: {report.summary()}")
            if not report.passed:
                servers.stop_server(green)
                return DeployOutcome(location, green, report, False, error=report.summary())
            new = state.promote(green)
            self._publish(new)
            new, retired = self._retire_idle(new, location)
            return DeployOutcome(location, green, report, True, retired)

    def rollback(self, location: str = DEFAULT_LOCATION) -> CodeServer:
        """Serve the standby again (restarted from its checkout if it died); returns it."""
        with self._locked():
            state = self.state()
            current = state.get(location)
            if current is None or current.standby is None:
                state.rollback(location)  # raises the right DeployError
                raise AssertionError("unreachable")
            standby = current.standby
            if not servers.ping(standby):
                self.log(f"standby {standby.address} is down; restarting it")
                target = Target(
                    location,
                    standby.ref,
                    standby.commit,
                    Path(standby.working_dir),
                    standby.module,
                    standby.attribute,
                )
                restarted = servers.start_code_server(
                    target, standby.color, self.host, self._free_port(state), self.root / "logs"
                )
                check = check_definitions(restarted)
                if not check.ok:
                    servers.stop_server(restarted)
                    raise DeployError(f"standby does not load: {check.detail}")
                state = state.with_standby(location, restarted)
            new = state.rollback(location)
            self._publish(new)
            return new.locations[location].active

    def undeploy(self, location: str) -> tuple[CodeServer, ...]:
        """Stop every server of ``location`` and drop it from the workspace (branch deploys)."""
        with self._locked():
            state = self.state()
            current = state.get(location)
            if current is None:
                raise DeployError(f"no deployment of code location {location!r}")
            new = state.remove(location)
            self._publish(new)
            for server in current.servers():
                servers.stop_server(server)
            return current.servers()

    def retire(self) -> tuple[CodeServer, ...]:
        """Stop draining servers that run nothing any more."""
        with self._locked():
            state = self.state()
            retired: list[CodeServer] = []
            for location in list(state.locations):
                state, gone = self._retire_idle(state, location)
                retired += gone
            return tuple(retired)

    # ------------------------------------------------------------------ helpers

    def _publish(self, state: DeployState) -> None:
        save_state(self.state_path, state)
        write_atomic(
            self.workspace_path, render_workspace(loc.active for loc in state.locations.values())
        )
        if self.webserver_url:
            reload_workspace(self.webserver_url)
        self.log(f"workspace {self.workspace_path} switched")

    def _retire_idle(
        self, state: DeployState, location: str
    ) -> tuple[DeployState, tuple[CodeServer, ...]]:
        current = state.get(location)
        if current is None:
            return state, ()
        idle = tuple(s for s in current.draining if not servers.current_runs(s))
        for server in idle:
            self.log(f"stopping drained {server.color.value} server {server.address}")
            servers.stop_server(server)
        if idle:
            state = state.without_draining(location, idle)
            save_state(self.state_path, state)
        return state, idle

    def _free_port(self, state: DeployState) -> int:
        used = set(state.used_ports())
        while True:
            port = pick_port(used, *self.ports)
            if _bindable(self.host, port):
                return port
            used.add(port)


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
