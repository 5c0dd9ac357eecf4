"""Health checks of a new code server before it takes traffic.

``definitions``: the server answers over gRPC and every repository loads from it (the same
calls the webserver makes), with at least one job. ``dry_run``: one market-session of staged
ticks is copied from the QA object store into a scratch data root and built (raw, clean,
quarantine) by the new server's code (:mod:`quant_assets.deploy.dry_run`), so QA data is read
but never written.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from quant_assets.deploy.servers import server_env
from quant_assets.lib.deploy import CheckResult, CodeServer, HealthReport


def check_definitions(server: CodeServer) -> CheckResult:
    import dagster as dg
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

    t0 = time.perf_counter()
    origin = GrpcServerCodeLocationOrigin(
        host=server.host, port=server.port, location_name=server.location
    )
    try:
        with (
            dg.DagsterInstance.ephemeral() as instance,
            origin.create_location(instance) as location,
        ):
            repos = location.get_repositories()
            jobs = sum(len(r.get_all_jobs()) for r in repos.values())
            sensors = sum(len(r.get_sensors()) for r in repos.values())
    except Exception as exc:  # any load error fails the check
        return CheckResult("definitions", False, _one_line(exc), time.perf_counter() - t0)
    ok = jobs > 0
    detail = f"{len(repos)} repositories, {jobs} jobs, {sensors} sensors"
    return CheckResult(
        "definitions", ok, detail if ok else f"no jobs ({detail})", time.perf_counter() - t0
    )


def check_dry_run(server: CodeServer, partition: str, *, timeout_s: float = 600) -> CheckResult:
    """Run the dry run with the new server's interpreter and checkout, in a child process."""
    t0 = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "quant_assets.deploy.dry_run",
        "--module",
        server.module,
        "--attribute",
        server.attribute,
        "--partition",
        partition,
    ]
    wd = Path(server.working_dir)
    try:
        out = subprocess.run(
            cmd, cwd=wd, env=server_env(wd), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return CheckResult("dry_run", False, f"timed out after {timeout_s:.0f}s", timeout_s)
    seconds = time.perf_counter() - t0
    lines = out.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if out.returncode != 0 or not result.get("ok"):
        why = result.get("error") or (out.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckResult("dry_run", False, f"{partition}: {why}", seconds)
    return CheckResult(
        "dry_run",
        True,
        f"{partition}: {result.get('clean_rows')} clean / {result.get('raw_rows')} raw rows",
        seconds,
    )


def health_check(server: CodeServer, dry_run_partition: str | None) -> HealthReport:
    """Definitions first; the dry run only when they loaded (and a partition was given)."""
    checks = [check_definitions(server)]
    if checks[0].ok and dry_run_partition:
        checks.append(check_dry_run(server, dry_run_partition))
    return HealthReport(checks)


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]
