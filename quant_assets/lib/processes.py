"""Processes from ``/proc`` (Linux): who is alive, and who belongs to a session or process group.

Used to stop everything ``dagster dev`` started (its session), to tell whether a forked run
worker still runs, and by the tests that check nothing is left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessStat:
    """The fields of ``/proc/<pid>/stat`` this project needs."""

    pid: int
    state: str  # "R", "S", ..., "Z" for a zombie (exited, not yet reaped)
    ppid: int
    pgrp: int
    session: int

    @property
    def live(self) -> bool:
        return self.state != "Z"

    @classmethod
    def parse(cls, pid: int, text: str) -> ProcessStat:
        fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold ")"
        return cls(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]))


def process_stat(pid: int) -> ProcessStat | None:
    try:
        return ProcessStat.parse(pid, (PROC / str(pid) / "stat").read_text())
    except (OSError, IndexError, ValueError):
        return None  # gone (or not a process)


def processes() -> list[ProcessStat]:
    out = []
    for entry in PROC.glob("[0-9]*"):
        stat = process_stat(int(entry.name))
        if stat is not None:
            out.append(stat)
    return out


def is_alive(pid: int) -> bool:
    """Running (a zombie is not)."""
    stat = process_stat(pid)
    return stat is not None and stat.live


def session_members(sid: int) -> list[int]:
    """Live processes of session ``sid``: everything its leader started, however deep."""
    return sorted(p.pid for p in processes() if p.live and p.session == sid)


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    return sorted(p.pid for p in processes() if p.live and p.pgrp == pgid)
