"""Run a :class:`ComposeProject` with plain ``podman`` commands: ``up`` (dependencies first,
waiting on their conditions), ``down`` (containers, network, and with ``volumes`` the named
volumes too) and ``ps``.

Health checks are run by this process (``podman healthcheck run``), not by Podman's systemd
timers: without systemd (containers, CI machines) Podman < 5 never runs them on its own.
Everything it creates carries the project label, so ``down`` finds it even after the compose
file changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from quant_assets.lib.stack.compose import PROJECT_LABEL, ComposeProject, Condition, Service


class StackError(RuntimeError):
    """A container did not start, exit cleanly or become healthy in time; says which and why."""


@dataclass(frozen=True)
class ContainerState:
    name: str
    service: str
    status: str  # created, running, exited, ...
    exit_code: int
    health: str  # healthy, unhealthy, starting, "" (no healthcheck)


class PodmanStack:
    def __init__(
        self,
        project: ComposeProject,
        state_dir: Path,
        *,
        podman: str = "podman",
        env: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.project = project
        self.state_dir = state_dir / project.name
        self.podman = podman
        self.env = dict(env) if env is not None else None
        self.log = log

    # ------------------------------------------------------------------ podman

    def _podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [self.podman, *args], capture_output=True, text=True, env=self.env, check=False
        )
        if check and out.returncode != 0:
            raise StackError(f"podman {' '.join(args[:2])}: {out.stderr.strip()[-800:]}")
        return out

    def _filter(self) -> list[str]:
        return ["--filter", f"label={PROJECT_LABEL}={self.project.name}"]

    # ------------------------------------------------------------------ commands

    def up(
        self,
        profiles: Iterable[str] = (),
        names: Iterable[str] = (),
        *,
        wait: bool = True,
        timeout_s: float = 600.0,
    ) -> list[Service]:
        """Start the selected services (those already running are left as they are)."""
        services = self.project.select(profiles, names)
        missing = [
            s.image
            for s in services
            if self._podman("image", "exists", s.image, check=False).returncode
        ]
        if missing:
            raise StackError(
                f"images not built: {sorted(set(missing))} (scripts/stack/build_service_images.sh)"
            )
        deadline = time.monotonic() + timeout_s
        self._ensure_network_and_volumes(services)
        config_dir = self.state_dir / "configs"
        config_dir.mkdir(parents=True, exist_ok=True)
        for name, content in self.project.configs.items():
            (config_dir / name).write_text(content)
            (config_dir / name).chmod(0o644)
        running = {c.service: c for c in self.ps()}
        for svc in services:
            for dep, condition in svc.depends_on.items():
                self._wait_for(self.project.services[dep], condition, deadline)
            current = running.get(svc.name)
            if current and current.status == "running":
                continue
            if current:
                self._podman("rm", "-f", current.name)
            env_file = self.state_dir / f"{svc.name}.env"
            env_file.touch(mode=0o600)
            env_file.write_text("".join(f"{k}={v}\n" for k, v in svc.environment.items()))
            self.log(f"starting {svc.name} ({svc.image})")
            self._podman("run", *self.project.run_args(svc, config_dir, env_file))
        if wait:
            completed = {
                dep for s in services for dep, c in s.depends_on.items() if c is Condition.COMPLETED
            }
            for svc in services:
                if svc.name in completed:
                    self._wait_for(svc, Condition.COMPLETED, deadline)
                elif svc.healthcheck:
                    self._wait_for(svc, Condition.HEALTHY, deadline)
                else:
                    self._wait_for(svc, Condition.STARTED, deadline)
        return services

    def down(self, *, volumes: bool = False) -> list[str]:
        """Remove every container of the project (and its network; its volumes with ``volumes``)."""
        names = self._podman("ps", "-a", *self._filter(), "--format", "{{.Names}}").stdout.split()
        if names:
            # Stop all first (in parallel), then remove one by one: Podman 4.3's `rm -f` of a
            # container that is stopping at the same moment fails with "state improper".
            self._podman("stop", "-t", "10", *names, check=False)
            for name in names:
                for attempt in range(3):
                    if self._podman("rm", "-f", name, check=False).returncode == 0:
                        break
                    if self._podman("container", "exists", name, check=False).returncode:
                        break
                    time.sleep(1 + attempt)
                else:
                    self._podman("rm", "-f", name)  # raises with podman's reason
        if volumes:
            vols = self._podman("volume", "ls", *self._filter(), "-q").stdout.split()
            if vols:
                self._podman("volume", "rm", "-f", *vols)
        self._podman("network", "rm", "-f", self.project.network, check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return names

    def ps(self) -> list[ContainerState]:
        ids = self._podman("ps", "-a", "-q", *self._filter()).stdout.split()
        if not ids:
            return []
        out = []
        for c in json.loads(self._podman("inspect", *ids).stdout):
            state = c["State"]
            health = state.get("Health") or state.get("Healthcheck") or {}
            out.append(
                ContainerState(
                    name=c["Name"].lstrip("/"),
                    service=c["Config"]["Labels"].get("com.docker.compose.service", ""),
                    status=state["Status"],
                    exit_code=int(state.get("ExitCode") or 0),
                    health=str(health.get("Status") or ""),
                )
            )
        return out

    def volumes(self) -> list[str]:
        return self._podman("volume", "ls", *self._filter(), "-q").stdout.split()

    def logs(self, service: str, tail: int = 40) -> str:
        out = self._podman(
            "logs", "--tail", str(tail), self.project.container(service), check=False
        )
        return (out.stdout + out.stderr).strip()

    # ------------------------------------------------------------------ internals

    def _ensure_network_and_volumes(self, services: list[Service]) -> None:
        if self._podman("network", "exists", self.project.network, check=False).returncode:
            self._podman("network", "create", *self.project.labels(), self.project.network)
        needed = {v.partition(":")[0] for s in services for v in s.volumes}
        for vol in sorted(n for n in needed if not n.startswith("/")):
            full = self.project.volume(vol)
            if self._podman("volume", "exists", full, check=False).returncode:
                self._podman("volume", "create", *self.project.labels(), full)

    def _state(self, service: Service) -> ContainerState | None:
        return next((c for c in self.ps() if c.service == service.name), None)

    def _wait_for(self, service: Service, condition: Condition, deadline: float) -> None:
        name = self.project.container(service.name)
        while True:
            state = self._state(service)
            if state is None:
                raise StackError(f"{service.name}: no container")
            done = state.status == "exited" and state.exit_code == 0
            if condition is Condition.COMPLETED:
                if done:
                    return
            elif done and service.restart not in ("always", "unless-stopped"):
                return  # a one-shot job that finished (e.g. the bucket creation)
            elif state.status == "running":
                if condition is Condition.STARTED or service.healthcheck is None:
                    return
                if self._podman("healthcheck", "run", name, check=False).returncode == 0:
                    return
            elif state.status == "exited" and not service.restart:
                raise StackError(
                    f"{service.name} exited with {state.exit_code}: {self.logs(service.name)}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name}: not {condition.value} in time (status {state.status}): "
                    f"{self.logs(service.name)}"
                )
            time.sleep(service.healthcheck.interval_s if service.healthcheck else 1.0)
