"""Run-failure alerts: the failing step's real error, posted to a configurable webhook."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.lib.monitoring.failures import ErrorLink, StepError, describe_failure
from quant_assets.lib.monitoring.webhook import RunFailureNotice, WebhookError, post_json
from quant_assets.lib.secrets import SecretNotFoundError
from quant_assets.lib.settings import process_environment
from resources.secrets import SecretsResource

WEBHOOK_SECRET = "QUANT_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV = "QUANT_DAGSTER_URL"  # webserver base URL for run links in notifications


def _chain(error: Any) -> list[ErrorLink]:
    links: list[ErrorLink] = []
    while error is not None and len(links) < 20:
        links.append(ErrorLink(getattr(error, "cls_name", None), getattr(error, "message", "")))
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return links


def failure_reason(context: dg.RunFailureSensorContext) -> str:
    """The failed steps' root errors (``step: Class: message``), not "Steps failed: [...]"."""
    steps = [
        StepError(event.step_key or "?", _chain(getattr(event.event_specific_data, "error", None)))
        for event in context.get_step_failure_events()
    ]
    return describe_failure(context.failure_event.message, steps)


class AlertWebhookResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where alerts go: the URL is a *secret name* (URLs embed tokens), resolved per send."""

    url_secret: str = Field(default=WEBHOOK_SECRET, description="secret holding the webhook URL")
    secrets: SecretsResource | None = None
    dagster_url: str | None = Field(default=None, description="webserver URL for run links")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertWebhookResource:
        e = process_environment() if env is None else env
        return cls(secrets=SecretsResource.from_env(e), dagster_url=e.get(DAGSTER_URL_ENV) or None)

    def url(self) -> str | None:
        try:
            return (self.secrets or SecretsResource()).get(self.url_secret).reveal()
        except SecretNotFoundError:
            return None

    def run_url(self, run_id: str) -> str | None:
        return f"{self.dagster_url.rstrip('/')}/runs/{run_id}" if self.dagster_url else None


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run (job, partition, the failing step's error, a link) to "
    "the webhook in the QUANT_ALERT_WEBHOOK_URL secret; skips when none is configured.",
)
def failure_webhook_sensor(
    context: dg.RunFailureSensorContext, alert_webhook: AlertWebhookResource
) -> dg.SkipReason | None:
    url = alert_webhook.url()
    if not url:
        return dg.SkipReason(f"no webhook configured ({alert_webhook.url_secret} unset)")
    run = context.dagster_run
    notice = RunFailureNotice(
        job_name=run.job_name,
        run_id=run.run_id,
        partition_key=run.tags.get("dagster/partition"),
        error=failure_reason(context),
        failed_at=datetime.now(tz=UTC),
        run_url=alert_webhook.run_url(run.run_id),
    )
    try:
        post_json(url, notice.payload())
    except WebhookError as exc:
        context.log.warning(str(exc))  # names the host only, never the URL's token
        raise
    return None
