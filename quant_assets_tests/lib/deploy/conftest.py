from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from quant_assets.lib.deploy import CodeServer, Color

MakeServer = Callable[..., CodeServer]


@pytest.fixture
def make_server() -> MakeServer:
    """A recorded code server for ``color``/``port`` (no process behind it)."""

    def make(color: Color, port: int, location: str = "quant_assets") -> CodeServer:
        return CodeServer(
            location=location,
            color=color,
            host="127.0.0.1",
            port=port,
            ref="main",
            commit="abc123",
            working_dir="/srv/app",
            module="quant_assets.definitions",
            attribute="defs",
            pid=4242,
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

    return make
