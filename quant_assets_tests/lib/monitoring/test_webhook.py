from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quant_assets.lib.monitoring.webhook import RunFailureNotice, WebhookError, post_json
from quant_assets_tests.webhook_server import webhook_server

NOTICE = RunFailureNotice(
    "tick_lake", "r1", "2024-01-02|SPY", "clean_ticks: ValueError: bad", datetime.now(tz=UTC)
)


def test_post_json_local_server_receives_payload() -> None:
    with webhook_server() as hook:
        assert post_json(hook.url, NOTICE.payload()) == 200
    assert hook.bodies[0]["job_name"] == "tick_lake"
    assert "ValueError: bad" in hook.bodies[0]["text"]


def test_post_json_server_error_then_ok_retried() -> None:
    with webhook_server() as hook:
        hook.status = [503, 200]
        assert post_json(hook.url, NOTICE.payload(), backoff_s=0.01) == 200
    assert hook.hits == 2 and len(hook.bodies) == 1


def test_post_json_client_error_not_retried_message_hides_token() -> None:
    with webhook_server(path="/hooks/T0KEN") as hook:
        wrong = hook.url.replace("T0KEN", "WRONG-S3CRET")
        with pytest.raises(WebhookError, match="HTTP 404") as info:
            post_json(wrong, NOTICE.payload(), backoff_s=0.01)
    assert hook.hits == 1 and "WRONG-S3CRET" not in str(info.value)


def test_post_json_nothing_listening_raises_after_attempts() -> None:
    with pytest.raises(WebhookError, match=r"URLError|ConnectionRefused"):
        post_json("http://127.0.0.1:9/x", {}, attempts=2, backoff_s=0.01, timeout_s=1)
