"""The run-failure webhook sensor against a real local HTTP server, on a real failed run."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from quant_assets.defs.alerts import AlertWebhookResource, failure_reason, failure_webhook_sensor
from quant_assets_tests.webhook_server import webhook_server


@pytest.fixture
def failed_run() -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    @dg.op
    def clean_ticks() -> None:
        raise ValueError("price column has NaN at row 17")

    @dg.job
    def tick_lake() -> None:
        clean_ticks()

    instance = dg.DagsterInstance.ephemeral()
    result = tick_lake.execute_in_process(
        instance=instance, raise_on_error=False, tags={"dagster/partition": "2024-01-02|SPY"}
    )
    assert not result.success
    return instance, result


def evaluate(
    failed_run: tuple[dg.DagsterInstance, dg.ExecuteInProcessResult], resource: Any
) -> Any:
    instance, result = failed_run
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    with dg.build_run_status_sensor_context(
        sensor_name="failure_webhook_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
        resources={"alert_webhook": resource},
    ) as context:
        ctx = context.for_run_failure()
        assert "Steps failed" in (ctx.failure_event.message or "")  # what Dagster gives
        return failure_webhook_sensor(ctx), failure_reason(ctx)


def test_failure_webhook_sensor_posts_job_partition_and_root_error(
    failed_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as hook:
        monkeypatch.setenv("QUANT_ALERT_WEBHOOK_URL", hook.url)
        resource = AlertWebhookResource(dagster_url="http://dagster.internal:3000")
        outcome, reason = evaluate(failed_run, resource)
    assert outcome is None
    assert reason == "clean_ticks: ValueError: price column has NaN at row 17"
    (body,) = hook.bodies
    assert body["job_name"] == "tick_lake" and body["partition_key"] == "2024-01-02|SPY"
    assert body["error"] == reason and "Steps failed" not in body["text"]
    assert body["run_url"] == f"http://dagster.internal:3000/runs/{failed_run[1].run_id}"


def test_failure_webhook_sensor_without_url_skips(
    failed_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANT_ALERT_WEBHOOK_URL", raising=False)
    outcome, _ = evaluate(failed_run, AlertWebhookResource())
    assert isinstance(outcome, dg.SkipReason)
    assert "QUANT_ALERT_WEBHOOK_URL unset" in (outcome.skip_message or "")
