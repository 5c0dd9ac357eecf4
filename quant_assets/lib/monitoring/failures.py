"""The reason a run failed, in one line an operator can act on.

Dagster's run-failure event only says ``Execution of run for "job" failed. Steps failed:
['clean_ticks']``; the reason is in each failed step's error, often as the *cause* of a framework
wrapper (``DagsterExecutionStepExecutionError`` → the user's ``ValueError``). This module walks
those chains; it takes plain values so it needs no dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_ERROR_CHARS = 4000
# Framework wrappers whose message only points at the cause.
WRAPPERS = frozenset(
    {
        "DagsterExecutionStepExecutionError",
        "DagsterUserCodeExecutionError",
        "DagsterExecutionInterruptedError",
        "RetryRequestedFromPolicy",
    }
)


@dataclass(frozen=True)
class ErrorLink:
    """One error of a cause chain: class name and first message line."""

    cls_name: str | None
    message: str


@dataclass(frozen=True)
class StepError:
    step_key: str
    chain: Sequence[ErrorLink]  # outermost first


def _line(link: ErrorLink) -> str:
    message = link.message.strip().splitlines()[0] if link.message.strip() else ""
    prefix = f"{link.cls_name}: " if link.cls_name else ""
    # SerializableErrorInfo messages already start with "module.Class: ..."
    if link.cls_name and message.split(":", 1)[0].endswith(link.cls_name):
        prefix = ""
    return f"{prefix}{message}".strip()


def root_cause(chain: Sequence[ErrorLink]) -> str:
    """The innermost error that is not a framework wrapper (else the innermost)."""
    meaningful = [link for link in chain if link.cls_name not in WRAPPERS]
    pick = (meaningful or list(chain))[-1:] if chain else []
    return _line(pick[0]) if pick else ""


def describe_failure(run_message: str | None, steps: Iterable[StepError]) -> str:
    """``step: Class: message`` per failed step (``; ``-joined), else the run's own message."""
    parts = [f"{step.step_key}: {root_cause(step.chain)}" for step in steps if step.chain]
    text = "; ".join(p for p in parts if p.strip()) or (run_message or "").strip()
    return text[:MAX_ERROR_CHARS] or "run failed (no error recorded)"
