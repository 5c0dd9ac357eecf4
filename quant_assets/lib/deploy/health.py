"""Health of a freshly started code server, and the decision it drives.

A deploy switches only when every check passed; any failure (or no check at all) keeps the
serving server, so a broken build can never take traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    name: str  # "definitions", "dry_run", ...
    ok: bool
    detail: str  # one line: what was checked, or why it failed
    seconds: float = 0.0


@dataclass(frozen=True)
class HealthReport:
    checks: Sequence[CheckResult]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def summary(self) -> str:
        """One line, e.g. ``definitions ok (3.1s); dry_run FAILED: KeyError 'x'``."""
        if not self.checks:
            return "no health check ran"
        parts = []
        for c in self.checks:
            state = f"ok ({c.seconds:.1f}s)" if c.ok else f"FAILED: {c.detail}"
            parts.append(f"{c.name} {state}")
        return "; ".join(parts)
