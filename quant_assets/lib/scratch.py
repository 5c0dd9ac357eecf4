"""Local scratch directories that a killed process does not leak.

Landing spills and bounded partition builds write gigabytes of local spill files; SIGKILL skips
``TemporaryDirectory``'s cleanup, so a crash would leave them on disk forever. Each scratch
directory's name carries its owner's pid and process start time, and every new one first
removes the directories whose owner is gone: the next run repairs what a crash left.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT_NAME = "quant-scratch"
_OWNED = re.compile(r"-(?P<pid>\d+)-(?P<start>\d+)-[A-Za-z0-9_]+$")


def _start_time(pid: int) -> int | None:
    """Clock ticks since boot at which ``pid`` started (``/proc/<pid>/stat`` field 22), 0 where
    there is no ``/proc``, None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _owner_alive(pid: int, start: int) -> bool:
    """The pid runs and is the same process (a reused pid has another start time)."""
    now = _start_time(pid)
    return now is not None and (now == start or now == 0)


def sweep_orphans(root: Path) -> list[Path]:
    """Remove the scratch directories under ``root`` whose owner process is gone."""
    removed = []
    for entry in root.iterdir() if root.is_dir() else ():
        m = _OWNED.search(entry.name)
        if m and entry.is_dir() and not _owner_alive(int(m["pid"]), int(m["start"])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def scratch_root(parent: Path | None = None) -> Path:
    return (parent or Path(tempfile.gettempdir())) / ROOT_NAME


@contextmanager
def scratch_dir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A fresh directory under ``<parent or TMPDIR>/quant-scratch``, removed on exit; orphans of
    dead processes are swept first."""
    root = scratch_root(parent)
    root.mkdir(parents=True, exist_ok=True)
    sweep_orphans(root)
    pid = os.getpid()
    owner = f"{prefix}-{pid}-{_start_time(pid) or 0}-"
    path = Path(tempfile.mkdtemp(prefix=owner, dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
