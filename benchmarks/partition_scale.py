"""Does the platform hold a whole market? Dagster-side costs at 10, 1,000 and 10,000 symbols.

For each symbol count, on a fresh SQLite instance with the full default history (sessions from
QUANT_FIRST_SESSION, default 1990-01-01, x markets): definitions load (fresh interpreter), the
first automation evaluation with a cursor (after a clean_ticks materialization), a backfill
launch through the webserver's GraphQL (one market-session, and one symbol over a year of its
market via the ``quant/symbols`` tag), the partitions-page health query of clean_ticks and of
the per-symbol trained_policy, and the webserver's peak memory (VmHWM of its process tree).

Targets (issue 8): every figure at 10,000 symbols within 2x of 10 symbols; webserver < 1.5 GB.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/partition_scale.py [--symbols 10,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOAD_DEFS = (
    "import time; t = time.perf_counter(); from quant_assets.definitions import build_defs; "
    "build_defs().resolve_asset_graph(); print(time.perf_counter() - t)"
)
LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
  }
}
"""
HEALTH = """
query Health($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      partitionKeysByDimension { name }
      assetPartitionStatuses {
        __typename
        ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey } }
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions }
        ... on TimePartitionStatuses { ranges { startKey endKey status } }
      }
    }
  }
}
"""
TICK_ASSETS = [{"path": ["raw_ticks"]}, {"path": ["clean_ticks"]}, {"path": ["tick_quarantine"]}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(url: str, query: str, variables: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        data = json.loads(exc.read() or b"{}") or {"errors": [str(exc)]}
    took = time.perf_counter() - t
    if data.get("errors"):
        raise RuntimeError(data["errors"])
    return took, data["data"]


def tree_peak_rss_gb(pid: int) -> float:
    """Sum of VmHWM (peak RSS) over the process and its descendants."""
    pids, total = [pid], 0
    while pids:
        p = pids.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if "VmHWM" in line)
        pids += [int(c) for c in children]
    return total / 1024**2


def measure(n: int, env: dict[str, str]) -> dict[str, float]:
    import dagster as dg

    from quant_assets.definitions import build_defs
    from quant_assets.defs.partitions import tick_partitions
    from quant_assets.defs.tick_checks import blocking_check_keys
    from quant_assets.lib.settings import Settings

    out: dict[str, float] = {}
    out["defs_load_s"] = float(
        subprocess.run(
            [sys.executable, "-c", LOAD_DEFS], env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
    )
    os.environ.update(env)
    instance = dg.DagsterInstance.get()
    symbols = [f"S{i:05d}" for i in range(n)]  # equities: the XNYS market
    instance.add_dynamic_partitions("symbols", symbols)
    out["partitions"] = float(tick_partitions.get_num_partitions())
    defs = build_defs(Settings.from_env(env))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    key = "2024-01-02|XNYS"
    instance.report_runless_asset_event(dg.AssetMaterialization("clean_ticks", partition=key))
    for check in blocking_check_keys():
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=check.asset_key, check_name=check.name, passed=True, partition=key
            )
        )
    t = time.perf_counter()
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    out["automation_s"] = time.perf_counter() - t
    out["automation_requested"] = float(second.total_requested)

    port = free_port()
    command = [sys.executable, "-m", "dagster_webserver", "-m", "quant_assets.definitions"]
    web = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                _, node = graphql(url, HEALTH, {"path": ["clean_ticks"]})
                if node["assetNodeOrError"].get("partitionKeysByDimension"):
                    break  # the code location is loaded
                raise RuntimeError("code location not loaded yet")
            except Exception:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise
                time.sleep(1)
        session = {"partitionNames": ["2024-01-02|XNYS"], "assetSelection": TICK_ASSETS}
        out["backfill_session_s"], data = graphql(url, LAUNCH, {"params": session})
        assert data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", data
        year = [date(2024, 1, 1) + timedelta(days=i) for i in range(366)]
        symbol_year = {
            "partitionNames": [f"{d.isoformat()}|XNYS" for d in year],
            "assetSelection": TICK_ASSETS,
            "tags": [{"key": "quant/symbols", "value": symbols[-1]}],
        }
        out["backfill_symbol_year_s"], data = graphql(url, LAUNCH, {"params": symbol_year})
        assert data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", data
        out["health_clean_ticks_s"], _ = graphql(url, HEALTH, {"path": ["clean_ticks"]})
        out["health_trained_policy_s"], _ = graphql(url, HEALTH, {"path": ["trained_policy"]})
        out["webserver_peak_gb"] = tree_peak_rss_gb(web.pid)
    finally:
        web.terminate()
        web.wait(timeout=60)
    return out


def run_one(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "QUANT_DATA_ROOT": str(Path(tmp) / "data"),
            "PYTHONPATH": str(REPO),
        }
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], env=env, capture_output=True, text=True
        )
        if proc.returncode:
            raise SystemExit(f"{n} symbols failed:\n{proc.stderr[-3000:]}")
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="10,1000,10000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # a fresh interpreter per symbol count
        print(json.dumps(measure(args.one, dict(os.environ))))
        return
    counts = [int(c) for c in args.symbols.split(",")]
    results = {n: run_one(n) for n in counts}
    names = list(results[counts[0]])
    print(f"{'figure':<26}" + "".join(f"{n:>12,}" for n in counts) + "   ratio max/min-count")
    for name in names:
        values = [results[n][name] for n in counts]
        base = values[0] or 1e-9
        ratio = values[-1] / base
        row = "".join(f"{v:>12.3f}" if v < 1e5 else f"{v:>12,.0f}" for v in values)
        print(f"{name:<26}{row}   {ratio:>6.2f}x")


if __name__ == "__main__":
    main()
