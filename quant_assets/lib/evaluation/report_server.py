"""A small read-only HTTP server for the stored evaluation reports.

Why: the tear sheet's ``report.html`` lives in the object store (local files or S3); a
``file://`` or ``s3://`` link in the Dagster UI is refused by the browser. ``quant ui`` starts
this server next to the webserver and the ``episodes`` asset links each report as
``<QUANT_REPORTS_URL>/evaluations/<SYMBOL>/<evaluation_id>/report.html``.

Only the files an evaluation writes for people (``report.html``, ``tearsheet.png``,
``summary.json``) under ``evaluations/`` are served, with their content type; every other path
is 404 (the server never lists or reads anything else of the store). ``/`` lists the newest
reports.
"""

from __future__ import annotations

import html
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from quant_assets.lib.storage.object_store import ObjectNotFoundError, ObjectStore

REPORTS_PREFIX = "evaluations"
CONTENT_TYPES = {
    "report.html": "text/html; charset=utf-8",
    "tearsheet.png": "image/png",
    "summary.json": "application/json",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:=-]*$")
INDEX_LIMIT = 200


def report_key(url_path: str) -> str | None:
    """The object key a request path names, or None when it is not a servable report file.

    ``/evaluations/SPY/<id>/report.html`` -> ``evaluations/SPY/<id>/report.html``.
    """
    parts = unquote(urlsplit(url_path).path).strip("/").split("/")
    if len(parts) != 4 or parts[0] != REPORTS_PREFIX or parts[3] not in CONTENT_TYPES:
        return None
    if not all(_SEGMENT.match(p) for p in parts[1:3]):
        return None
    return "/".join(parts)


def report_url(
    base_url: str | None, evaluation_prefix: str, name: str = "report.html"
) -> str | None:
    """HTTP link of one stored report file, or None without a configured server."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{evaluation_prefix.strip('/')}/{name}"


def index_html(store: ObjectStore, limit: int = INDEX_LIMIT) -> str:
    """Newest ``limit`` reports (by modification time) as a list of links."""
    infos = [i for i in store.list_info(REPORTS_PREFIX) if i.key.endswith("/report.html")]
    infos.sort(key=lambda i: i.mtime_ns, reverse=True)
    rows = "\n".join(
        f'<li><a href="/{html.escape(i.key)}">{html.escape(i.key.rsplit("/", 1)[0])}</a></li>'
        for i in infos[:limit]
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>evaluation reports</title>"
        f"</head><body><h1>Evaluation reports</h1><ul>{rows or '<li>none yet</li>'}</ul>"
        "</body></html>"
    )


def _handler(store: ObjectStore) -> type[BaseHTTPRequestHandler]:
    class ReportHandler(BaseHTTPRequestHandler):
        server_version = "quant-reports"

        def do_GET(self) -> None:
            self._respond(body=True)

        def do_HEAD(self) -> None:
            self._respond(body=False)

        def _respond(self, *, body: bool) -> None:
            path = urlsplit(self.path).path
            if path in ("", "/"):
                self._send(
                    HTTPStatus.OK, "text/html; charset=utf-8", index_html(store).encode(), body
                )
                return
            key = report_key(path)
            if key is None:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not a report\n", body)
                return
            try:
                data = store.read_bytes(key)
            except (ObjectNotFoundError, FileNotFoundError):
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"no such report\n", body)
                return
            self._send(HTTPStatus.OK, CONTENT_TYPES[key.rsplit("/", 1)[1]], data, body)

        def _send(self, status: HTTPStatus, ctype: str, data: bytes, body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the CLI is quiet by default

    return ReportHandler


def make_server(store: ObjectStore, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A bound, not yet serving server (``port`` 0: any free port; see ``server_address``)."""
    server = ThreadingHTTPServer((host, port), _handler(store))
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve until ``server.shutdown()`` in a daemon thread (tests, embedding)."""
    thread = threading.Thread(target=server.serve_forever, name="report-server", daemon=True)
    thread.start()
    return thread
