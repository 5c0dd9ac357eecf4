"""Adapter errors: one exception type for every kind of bad vendor file.

Callers (sensors, the landing-zone job) quarantine a file on :class:`MalformedFileError` and need
to tell the vendor *where* the problem is, so the error carries path, line and column rather than
leaking a pandas/arrow traceback.
"""

from __future__ import annotations

from pathlib import Path


class MalformedFileError(ValueError):
    """A vendor file cannot be turned into canonical ticks.

    ``line`` is 1-based: the physical line in a text file (header = line 1) or the row number in a
    columnar/binary file (``kind="row"``); ``None`` when the problem is not tied to one place.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        kind: str = "line",
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        self.kind = kind
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"{self.kind} {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        location = f" {', '.join(where)}:" if where else ""
        return f"{self.path}:{location} {self.problem}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only args break default exception pickling; dagster ships errors across processes.
        return (_rebuild, (self.path, self.problem, self.line, self.column, self.kind))


def _rebuild(
    path: str, problem: str, line: int | None, column: str | None, kind: str
) -> MalformedFileError:
    return MalformedFileError(path, problem, line=line, column=column, kind=kind)


class UnsupportedFileError(MalformedFileError):
    """A well-formed file of a kind the adapters deliberately do not handle (e.g. DBN mbo)."""


class UnknownSourceError(ValueError):
    """No adapter/mapping matches the file (``detect_source``) or the source name is unknown."""


def relocated(exc: MalformedFileError, old: str, new: str) -> MalformedFileError:
    """The same error naming ``new`` instead of the path prefix ``old`` (a temporary copy)."""
    path = exc.path.replace(old, new, 1) if exc.path.startswith(old) else exc.path
    cls = type(exc)
    return cls(path, exc.problem, line=exc.line, column=exc.column, kind=exc.kind)
