"""JSON webhooks for alerts (Slack/Teams/Mattermost-compatible ``text`` plus structured fields).

Posted with the standard library, a few retries with backoff; the URL (it usually embeds a token)
is resolved from a secret at send time and never logged: errors name only the host.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit


class WebhookError(RuntimeError):
    """The webhook did not accept the notification after the retries."""


@dataclass(frozen=True)
class RunFailureNotice:
    job_name: str
    run_id: str
    partition_key: str | None
    error: str
    failed_at: datetime
    run_url: str | None = None

    def payload(self) -> dict[str, Any]:
        where = f" [{self.partition_key}]" if self.partition_key else ""
        link = f" {self.run_url}" if self.run_url else ""
        return {
            "text": f"Dagster run failed: {self.job_name}{where}: {self.error}{link}",
            "event": "run_failure",
            "job_name": self.job_name,
            "run_id": self.run_id,
            "partition_key": self.partition_key,
            "error": self.error,
            "failed_at": self.failed_at.isoformat(),
            "run_url": self.run_url,
        }


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float = 10.0,
    attempts: int = 3,
    backoff_s: float = 1.0,
) -> int:
    """POST ``payload``; returns the HTTP status (2xx) or raises :class:`WebhookError`."""
    body = json.dumps(payload).encode()
    host = urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"
    last = ""
    for attempt in range(attempts):
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # a client error will not fix itself
        except (urllib.error.URLError, OSError) as exc:
            last = type(exc).__name__
        if attempt + 1 < attempts:
            time.sleep(backoff_s * 2**attempt)
    raise WebhookError(f"webhook at {host} refused the notification ({last})")
