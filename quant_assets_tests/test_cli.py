"""The command line as a new user meets it: `quant ui --help`, a fresh clone's `quant demo`
(quiet, through the instance), then `quant ui` on the same instance (no repeated work, and
Ctrl-C leaves no process behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from quant_assets.local_dagster import DagsterDev, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
QUANT = str(Path(sys.executable).with_name("quant"))
MAX_DEMO_LINES = 60
STOP_BUDGET_S = 10.0


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANT_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        QUANT_DATA_ROOT=str(tmp_path / "data"),
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env


def test_ui_help_shows_dagster_dev_options_pass_through() -> None:
    out = subprocess.run(
        [QUANT, "ui", "--help"], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout
    assert "passed" in out and "through to `dagster dev`" in out
    for option in ("--port", "--host", "--log-level"):
        assert option in out


def descendants(root: int) -> set[int]:
    """Live processes under ``root`` (any depth, any session), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if state[state.rfind(")") + 2] != "Z":
            left.add(pid)
    return left


def run_count(home: Path) -> int:
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        return len(instance.get_run_records())
    finally:
        instance.dispose()


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_demo_then_ui_quiet_no_duplicate_runs_and_clean_stop() -> None:
    # Not pytest's tmp_path: other pytest sessions on the machine prune old base temp dirs, and
    # this test outlives several of them.
    with tempfile.TemporaryDirectory(prefix="quant-demo-test-") as tmp:
        _demo_then_ui(Path(tmp))


def _demo_then_ui(tmp_path: Path) -> None:
    env = _env(tmp_path)
    demo = subprocess.run(
        [QUANT, "demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=2700
    )
    lines = (demo.stdout + demo.stderr).splitlines()
    print("\n".join(lines))
    assert demo.returncode == 0, demo.stderr[-4000:]
    assert len(lines) < MAX_DEMO_LINES, len(lines)
    assert not any("Traceback" in line or "Warning" in line for line in lines)
    home = tmp_path / "dagster_home"
    runs_after_demo = run_count(home)
    assert runs_after_demo > 0

    # `quant ui` on the same instance, sensors looking every 5 s: nothing to redo.
    port = free_port()
    ui = subprocess.Popen(
        [QUANT, "ui", "-p", str(port), "-h", "127.0.0.1"],
        cwd=REPO_ROOT,
        env=_env(tmp_path, QUANT_LANDING_SENSOR_INTERVAL_S="5"),
        start_new_session=True,
    )
    started: set[int] = set()
    try:
        probe = DagsterDev(ui, f"http://127.0.0.1:{port}/graphql")  # GraphQL only
        probe.wait_ready()
        time.sleep(40)  # several sensor and automation evaluations
        assert run_count(home) == runs_after_demo
        started = descendants(ui.pid)
        assert len(started) >= 3, started  # dagster dev, webserver, daemon, code server...
    finally:
        stopped_at = time.monotonic()
        ui.send_signal(signal.SIGINT)  # Ctrl-C
        while alive(started | {ui.pid}) and time.monotonic() - stopped_at < 30:
            ui.poll()
            time.sleep(0.1)
        took = time.monotonic() - stopped_at
    left = alive(started | {ui.pid})
    assert not left, f"still running after Ctrl-C: {left}"
    assert took <= STOP_BUDGET_S, f"stopping took {took:.1f}s"


def test_ui_report_server_child_serves_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.request

    from quant_assets import cli

    monkeypatch.delenv("QUANT_REPORTS_URL", raising=False)
    monkeypatch.setenv("QUANT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    child = cli._start_report_server()
    assert child is not None
    try:
        url = os.environ["QUANT_REPORTS_URL"]  # what the webserver's code location reads
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as page:
                    assert page.status == 200 and b"Evaluation reports" in page.read()
                break
            except OSError:
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        cli._stop_child(child)
    assert child.returncode is not None
    # a configured server (prod, behind a proxy) is used as it is: nothing started
    monkeypatch.setenv("QUANT_REPORTS_URL", "https://reports.example")
    assert cli._start_report_server() is None


def test_train_smoke_verbose_progress_bar_reaches_total_quiet_otherwise() -> None:
    from click.testing import CliRunner

    from quant_assets.cli import main

    shown = CliRunner().invoke(main, ["-v", "train-smoke", "--steps", "64"])
    assert shown.exit_code == 0, shown.output
    bar = next(line for line in shown.output.splitlines() if line.startswith("train "))
    assert "64/64" in bar  # timesteps of the total, with elapsed time and ETA columns
    quiet = CliRunner().invoke(main, ["train-smoke", "--steps", "64"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.splitlines() == [quiet.output.strip()]  # just the closing line
    assert quiet.output.startswith("trained 64 steps")
