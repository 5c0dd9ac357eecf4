"""docker/compose.yaml read as a plan of ``podman run`` commands, for machines with Podman but
no Docker engine and a Podman too old for podman-compose's health conditions (< 4.6).

Only the subset of the Compose specification the project's file uses is accepted: image, command,
environment, volumes (named or ``./`` binds), configs (``content`` or ``file``), ports,
depends_on (with conditions), healthcheck, restart, profiles, init; any other service key is an
error, so a compose change this reader cannot honour fails loudly instead of running differently.
Variables are interpolated like Compose does (``${X}``, ``${X:-d}``, ``${X-d}``, ``${X:?msg}``,
``$$``), from the environment given, after YAML parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
SERVICE_KEYS = frozenset(
    {
        "image",
        "build",  # images are built beforehand (scripts/stack/build_service_images.sh)
        "command",
        "environment",
        "volumes",
        "configs",
        "ports",
        "depends_on",
        "healthcheck",
        "restart",
        "profiles",
        "init",
    }
)
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


class ComposeError(ValueError):
    """The compose file asks for something this reader does not do, or is inconsistent."""


class Condition(StrEnum):
    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution of one string."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name, op, arg = m.group(2), m.group(3), m.group(4)
        current = env.get(name)
        if op == ":-":
            return current if current else arg
        if op == "-":
            return arg if current is None else current
        if op in (":?", "?") and (current is None or (op == ":?" and not current)):
            raise ComposeError(f"variable {name} is required: {arg}")
        return current or ""

    return _VAR.sub(sub, value)


def _interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_all(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate_all(v, env) for k, v in node.items()}
    return node


def duration_s(text: str | int | float) -> float:
    """``2s``, ``1m30s``, ``500`` (seconds) → seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(text.strip())
    if not text.strip() or not m:
        raise ComposeError(f"unsupported duration {text!r}")
    return float(m.group(1) or 0) * 60 + float(m.group(2) or 0)


@dataclass(frozen=True)
class Healthcheck:
    command: tuple[str, ...] | str  # exec form, or a shell string (CMD-SHELL)
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Healthcheck:
        test = raw["test"]
        command: tuple[str, ...] | str
        if isinstance(test, str):
            command = test
        elif test[0] == "CMD-SHELL":
            command = " ".join(test[1:])
        elif test[0] == "CMD":
            command = tuple(str(t) for t in test[1:])
        else:
            raise ComposeError(f"unsupported healthcheck test {test!r}")
        return cls(
            command,
            duration_s(raw.get("interval", "30s")),
            duration_s(raw.get("timeout", "30s")),
            int(raw.get("retries", 3)),
        )

    def podman_args(self) -> list[str]:
        cmd = json.dumps(list(self.command)) if isinstance(self.command, tuple) else self.command
        return [
            "--health-cmd",
            cmd,
            "--health-interval",
            f"{self.interval_s:g}s",
            "--health-timeout",
            f"{self.timeout_s:g}s",
            "--health-retries",
            str(self.retries),
        ]


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    command: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()  # "source:target[:ro]", source a named volume or an absolute path
    configs: tuple[tuple[str, str], ...] = ()  # (config name, target path)
    ports: tuple[str, ...] = ()
    depends_on: Mapping[str, Condition] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    profiles: tuple[str, ...] = ()
    init: bool = False  # a tiny init as PID 1: SIGTERM reaches the Python process


@dataclass(frozen=True)
class ComposeProject:
    name: str
    directory: Path
    services: Mapping[str, Service]
    configs: Mapping[str, str]  # name → content
    volumes: tuple[str, ...]

    @classmethod
    def load(cls, path: Path, env: Mapping[str, str], name: str | None = None) -> ComposeProject:
        raw = yaml.safe_load(path.read_text())
        spec = _interpolate_all({k: v for k, v in raw.items() if not k.startswith("x-")}, env)
        directory = path.resolve().parent
        configs = {
            n: (c["content"] if "content" in c else (directory / c["file"]).read_text())
            for n, c in (spec.get("configs") or {}).items()
        }
        volumes = tuple(spec.get("volumes") or {})
        services = {
            n: _service(n, s, directory, set(volumes), set(configs))
            for n, s in spec["services"].items()
        }
        for svc in services.values():
            unknown = set(svc.depends_on) - set(services)
            if unknown:
                raise ComposeError(f"{svc.name} depends on unknown {sorted(unknown)}")
        return cls(
            name or str(spec.get("name") or directory.name), directory, services, configs, volumes
        )

    def select(self, profiles: Iterable[str] = (), names: Iterable[str] = ()) -> list[Service]:
        """Services to start, dependencies first: the named ones (whatever their profile) and
        their dependencies, or else every service without a profile or in one of ``profiles``."""
        wanted = list(names)
        if not wanted:
            active = set(profiles)
            wanted = [
                n for n, s in self.services.items() if not s.profiles or active & set(s.profiles)
            ]
        order: list[str] = []
        visiting: set[str] = set()

        def visit(n: str) -> None:
            if n in order:
                return
            if n not in self.services:
                raise ComposeError(f"no service {n!r}")
            if n in visiting:
                raise ComposeError(f"dependency cycle through {n!r}")
            visiting.add(n)
            for dep in self.services[n].depends_on:
                visit(dep)
            visiting.discard(n)
            order.append(n)

        for n in wanted:
            visit(n)
        return [self.services[n] for n in order]

    def container(self, service: str) -> str:
        return f"{self.name}-{service}-1"

    @property
    def network(self) -> str:
        return f"{self.name}_default"

    def volume(self, name: str) -> str:
        return f"{self.name}_{name}"

    def labels(self, service: str | None = None) -> list[str]:
        out = ["--label", f"{PROJECT_LABEL}={self.name}"]
        if service:
            out += ["--label", f"{SERVICE_LABEL}={service}"]
        return out

    def run_args(self, service: Service, config_dir: Path, env_file: Path) -> list[str]:
        """``podman run`` arguments (after ``run``) for ``service``; its configs are expected as
        files ``config_dir/<name>`` and its environment in ``env_file`` (never on argv)."""
        args = ["-d", "--name", self.container(service.name), *self.labels(service.name)]
        args += ["--network", self.network, "--network-alias", service.name]
        args += ["--hostname", service.name, "--env-file", str(env_file)]
        for vol in service.volumes:
            source, _, rest = vol.partition(":")
            args += ["-v", f"{source if source.startswith('/') else self.volume(source)}:{rest}"]
        for cfg, target in service.configs:
            args += ["-v", f"{config_dir / cfg}:{target}:ro"]
        for port in service.ports:
            args += ["-p", port]
        if service.healthcheck:
            args += service.healthcheck.podman_args()
        if service.init:
            args.append("--init")
        if service.restart and service.restart != "no":
            args += ["--restart", service.restart]
        args.append(service.image)
        if service.command:
            args += list(service.command)
        return args


def _service(
    name: str, raw: Mapping[str, Any], directory: Path, volumes: set[str], configs: set[str]
) -> Service:
    unknown = set(raw) - SERVICE_KEYS
    if unknown:
        raise ComposeError(f"service {name}: unsupported keys {sorted(unknown)}")
    if "image" not in raw:
        raise ComposeError(f"service {name}: needs an image")
    command = raw.get("command")
    if isinstance(command, str):
        command = command.split()
    env = raw.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    mounts = []
    for vol in raw.get("volumes") or []:
        source, _, rest = str(vol).partition(":")
        if source.startswith("."):
            source = str((directory / source).resolve())
        elif source not in volumes and not source.startswith("/"):
            raise ComposeError(f"service {name}: undeclared volume {source!r}")
        mounts.append(f"{source}:{rest}")
    cfgs = []
    for cfg in raw.get("configs") or []:
        if cfg["source"] not in configs:
            raise ComposeError(f"service {name}: undeclared config {cfg['source']!r}")
        cfgs.append((str(cfg["source"]), str(cfg["target"])))
    deps = raw.get("depends_on") or {}
    if isinstance(deps, list):
        deps = {d: {"condition": Condition.STARTED.value} for d in deps}
    return Service(
        name=name,
        image=str(raw["image"]),
        command=None if command is None else tuple(str(c) for c in command),
        environment={str(k): "" if v is None else str(v) for k, v in env.items()},
        volumes=tuple(mounts),
        configs=tuple(cfgs),
        ports=tuple(str(p) for p in raw.get("ports") or []),
        depends_on={
            d: Condition((c or {}).get("condition", Condition.STARTED.value))
            for d, c in deps.items()
        },
        healthcheck=Healthcheck.parse(raw["healthcheck"]) if "healthcheck" in raw else None,
        restart=raw.get("restart"),
        profiles=tuple(raw.get("profiles") or ()),
        init=bool(raw.get("init", False)),
    )
