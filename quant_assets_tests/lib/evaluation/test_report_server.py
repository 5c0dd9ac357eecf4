"""Report server: stored tear sheets over HTTP from a real local object store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from quant_assets.lib.evaluation.report_server import (
    make_server,
    report_key,
    report_url,
    serve_in_thread,
)
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.local_dagster import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
PREFIX = "evaluations/SPY/3f2a-run"
HTML = "<!doctype html><html><body><h1>SPY tear sheet</h1></body></html>"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    s = ObjectStore.local(tmp_path / "data")
    s.write_bytes(f"{PREFIX}/report.html", HTML.encode())
    s.write_bytes(f"{PREFIX}/tearsheet.png", b"\x89PNG fake")
    s.write_bytes(f"{PREFIX}/returns.parquet", b"not for people")
    return s


@pytest.fixture
def base_url(store: ObjectStore) -> Iterator[str]:
    server = make_server(store)
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def test_report_key_valid_report_path_returns_object_key() -> None:
    assert report_key(f"/{PREFIX}/report.html") == f"{PREFIX}/report.html"
    assert report_key(f"/{PREFIX}/tearsheet.png?x=1") == f"{PREFIX}/tearsheet.png"


@pytest.mark.parametrize(
    "path",
    [
        f"/{PREFIX}/returns.parquet",  # not a file for people
        "/evaluations/SPY/../../secrets/report.html",
        "/evaluations/SPY/%2e%2e/report.html",
        "/training/SPY/run/report.html",
        "/evaluations/SPY/report.html",
    ],
)
def test_report_key_other_paths_returns_none(path: str) -> None:
    assert report_key(path) is None


def test_report_url_configured_base_joins_prefix_else_none() -> None:
    assert report_url("http://h:3070/", PREFIX) == f"http://h:3070/{PREFIX}/report.html"
    assert report_url(None, PREFIX) is None and report_url("", PREFIX) is None


def test_server_stored_report_returns_html_200(base_url: str) -> None:
    status, ctype, body = get(f"{base_url}/{PREFIX}/report.html")
    assert (status, ctype, body.decode()) == (200, "text/html; charset=utf-8", HTML)
    assert get(f"{base_url}/{PREFIX}/tearsheet.png")[:2] == (200, "image/png")


def test_server_missing_or_foreign_keys_return_404(base_url: str) -> None:
    assert get(f"{base_url}/evaluations/SPY/other/report.html")[0] == 404
    assert get(f"{base_url}/{PREFIX}/returns.parquet")[0] == 404


def test_server_index_links_stored_reports(base_url: str) -> None:
    status, _, body = get(base_url + "/")
    assert status == 200 and f'href="/{PREFIX}/report.html"' in body.decode()


def test_cli_reports_serves_store_of_settings_and_stops_on_sigterm(
    store: ObjectStore, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANT_")}
    env.update(QUANT_DATA_ROOT=str(tmp_path / "data"), PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "quant_assets.cli", "reports", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = get(f"http://127.0.0.1:{port}/{PREFIX}/report.html")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.2)
        assert status == 200 and body.decode() == HTML
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in out.decode()
