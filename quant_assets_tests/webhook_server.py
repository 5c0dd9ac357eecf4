"""A real local HTTP server that records JSON POSTs (alert webhook tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorder:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    status: list[int] = field(default_factory=lambda: [200])  # replies in order, last repeats
    hits: int = 0


@contextmanager
def webhook_server(path: str = "/hooks/T0KEN") -> Iterator[Recorder]:
    recorder = Recorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            status = recorder.status[min(recorder.hits, len(recorder.status) - 1)]
            recorder.hits += 1
            if status < 300 and self.path == path:
                recorder.bodies.append(body)
            self.send_response(status if self.path == path else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
