from __future__ import annotations

from quant_assets.lib.monitoring.failures import ErrorLink, StepError, describe_failure

WRAPPED = [
    ErrorLink(
        "DagsterExecutionStepExecutionError",
        'Error occurred while executing op "clean_ticks":',
    ),
    ErrorLink("ValueError", "ValueError: price column has NaN\n  at row 17"),
]


def test_describe_failure_wrapped_error_gives_root_cause_per_step() -> None:
    text = describe_failure(
        'Execution of run failed. Steps failed: ["clean_ticks"].',
        [StepError("clean_ticks", WRAPPED)],
    )
    assert text == "clean_ticks: ValueError: price column has NaN"


def test_describe_failure_several_steps_joined() -> None:
    steps = [StepError("a", [ErrorLink("OSError", "disk full")]), StepError("b", WRAPPED)]
    assert describe_failure(None, steps) == (
        "a: OSError: disk full; b: ValueError: price column has NaN"
    )


def test_describe_failure_no_step_errors_falls_back_to_run_message() -> None:
    assert describe_failure("run worker crashed", []) == "run worker crashed"
    assert describe_failure(None, []) == "run failed (no error recorded)"
