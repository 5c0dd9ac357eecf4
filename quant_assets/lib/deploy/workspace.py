"""The Dagster workspace file the webserver and daemon read: one ``grpc_server`` entry per
code location, pointing at that location's active server.

The file is replaced with ``os.replace`` (atomic on POSIX), so a reader sees the old or the new
workspace, never a mix; the switch from blue to green is that one rename.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import yaml


class _Served(Protocol):
    @property
    def location(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


def render_workspace(servers: Iterable[_Served]) -> str:
    """YAML for ``dagster-webserver -w`` / ``dagster-daemon run -w``, locations sorted by name."""
    entries = [
        {"grpc_server": {"host": s.host, "port": s.port, "location_name": s.location}}
        for s in sorted(servers, key=lambda s: s.location)
    ]
    names = [e["grpc_server"]["location_name"] for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"code location names must be unique: {names}")
    header = "# Written by `quant deploy`; do not edit (the next deploy replaces it).\n"
    return header + yaml.safe_dump({"load_from": entries}, sort_keys=False)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
