"""Which code server serves each code location, and the one kept for rollback.

The state is one JSON file written atomically beside the workspace file it renders; every
transition returns a new :class:`DeployState` so that a failed step never leaves it half-changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from quant_assets.lib.deploy.workspace import write_atomic

STATE_VERSION = 1


class DeployError(RuntimeError):
    """A deploy or rollback cannot proceed; the message says why in one line."""


class Color(StrEnum):
    BLUE = "blue"
    GREEN = "green"

    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


@dataclass(frozen=True)
class CodeServer:
    """One ``dagster api grpc`` process serving a code location from a checkout."""

    location: str
    color: Color
    host: str
    port: int
    ref: str  # what was asked for: branch, tag or commit
    commit: str  # what it resolved to
    working_dir: str
    module: str
    attribute: str
    pid: int | None
    started_at: datetime

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} out of range")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "color": self.color.value,
            "host": self.host,
            "port": self.port,
            "ref": self.ref,
            "commit": self.commit,
            "working_dir": self.working_dir,
            "module": self.module,
            "attribute": self.attribute,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CodeServer:
        return cls(
            location=str(raw["location"]),
            color=Color(raw["color"]),
            host=str(raw["host"]),
            port=int(raw["port"]),
            ref=str(raw["ref"]),
            commit=str(raw["commit"]),
            working_dir=str(raw["working_dir"]),
            module=str(raw["module"]),
            attribute=str(raw["attribute"]),
            pid=None if raw.get("pid") is None else int(raw["pid"]),
            started_at=datetime.fromisoformat(str(raw["started_at"])),
        )


@dataclass(frozen=True)
class LocationState:
    """The serving server, the one kept warm for rollback, and older ones still draining runs."""

    active: CodeServer
    standby: CodeServer | None = None
    draining: tuple[CodeServer, ...] = ()

    def servers(self) -> tuple[CodeServer, ...]:
        return (self.active, *((self.standby,) if self.standby else ()), *self.draining)


@dataclass(frozen=True)
class DeployState:
    locations: Mapping[str, LocationState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "locations", MappingProxyType(dict(self.locations)))

    def get(self, location: str) -> LocationState | None:
        return self.locations.get(location)

    def next_color(self, location: str) -> Color:
        """Blue for a new location, else the colour the active server does not have."""
        current = self.get(location)
        return Color.BLUE if current is None else current.active.color.other()

    def used_ports(self) -> set[int]:
        return {s.port for loc in self.locations.values() for s in loc.servers()}

    def promote(self, server: CodeServer) -> DeployState:
        """``server`` serves its location; the old active becomes the standby, and the old
        standby moves to ``draining`` (stopped once it runs nothing)."""
        current = self.get(server.location)
        if current is None:
            return self._with(server.location, LocationState(active=server))
        draining = current.draining + ((current.standby,) if current.standby else ())
        return self._with(
            server.location,
            LocationState(active=server, standby=current.active, draining=draining),
        )

    def rollback(self, location: str) -> DeployState:
        """Swap active and standby; the rolled-back server stays warm as the new standby."""
        current = self.get(location)
        if current is None:
            raise DeployError(f"no deployment of code location {location!r}")
        if current.standby is None:
            raise DeployError(f"code location {location!r} has no standby server to roll back to")
        return self._with(
            location, replace(current, active=current.standby, standby=current.active)
        )

    def with_standby(self, location: str, server: CodeServer) -> DeployState:
        """Record a restarted standby (same code, possibly a new port or pid)."""
        current = self.get(location)
        if current is None or current.standby is None:
            raise DeployError(f"code location {location!r} has no standby to replace")
        return self._with(location, replace(current, standby=server))

    def without_draining(self, location: str, retired: Iterable[CodeServer]) -> DeployState:
        current = self.get(location)
        if current is None:
            return self
        gone = {s.port for s in retired}
        keep = tuple(s for s in current.draining if s.port not in gone)
        return self._with(location, replace(current, draining=keep))

    def remove(self, location: str) -> DeployState:
        return DeployState({k: v for k, v in self.locations.items() if k != location})

    def _with(self, location: str, loc: LocationState) -> DeployState:
        return DeployState({**self.locations, location: loc})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "updated_at": datetime.now(tz=UTC).isoformat(),
            "locations": {
                name: {
                    "active": loc.active.to_json(),
                    "standby": loc.standby.to_json() if loc.standby else None,
                    "draining": [s.to_json() for s in loc.draining],
                }
                for name, loc in sorted(self.locations.items())
            },
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DeployState:
        if raw.get("version") != STATE_VERSION:
            raise DeployError(f"deploy state version {raw.get('version')!r} is not supported")
        locations = {
            name: LocationState(
                active=CodeServer.from_json(loc["active"]),
                standby=CodeServer.from_json(loc["standby"]) if loc.get("standby") else None,
                draining=tuple(CodeServer.from_json(s) for s in loc.get("draining", ())),
            )
            for name, loc in raw.get("locations", {}).items()
        }
        return cls(locations)


def load_state(path: Path) -> DeployState:
    """The saved state, or an empty one when nothing was deployed yet."""
    if not path.exists():
        return DeployState()
    try:
        return DeployState.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"unreadable deploy state {path}: {exc}") from exc


def save_state(path: Path, state: DeployState) -> None:
    write_atomic(path, json.dumps(state.to_json(), indent=2) + "\n")


def pick_port(used: set[int], first: int, last: int) -> int:
    """The lowest port in ``[first, last]`` no recorded server holds."""
    for port in range(first, last + 1):
        if port not in used:
            return port
    raise DeployError(f"no free port in {first}-{last} for a new code server")
