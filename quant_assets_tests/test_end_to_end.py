"""End to end, as a user runs the platform: `dagster dev` (webserver + daemon) is up, a vendor file
is dropped into the landing zone, and nothing else is done by hand.

The sensors and the daemon must carry the file all the way:
landing_sensor → ingest_landing (landing_files) → landed_partitions_sensor → tick_lake (raw_ticks,
clean_ticks, tick_quarantine, checks) → automation_sensor (on by default) → cost_model_params, and
retrain_sensor → train_policy (trained_policy → episodes → policy_promotion). The test only
watches through the GraphQL endpoint, and reads the DuckDB warehouse after `dagster dev` has
stopped (the file is exclusive to one process).

The sensor intervals (30 s landing, 300 s retrain) and the training length are shortened through
their environment knobs; the rest (the 30 s asset-sensor interval, the 5 s daemon loop, run
start-up) is the platform as deployed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pytest

from quant_assets.lib.processes import group_members
from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.lake import Dataset, partition_prefix
from quant_assets.lib.ticks.sessions import session_windows
from quant_assets.lib.ticks.synthetic import SyntheticConfig, generate_ticks
from quant_assets.local_instance import ensure_local_instance

REPO_ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "EURUSD"
DAY = date(2024, 1, 3)  # a Wednesday: a full 24/5 FX session
PARTITION = f"{DAY.isoformat()}|FX"  # session date | market
# Dropped in the same batch, with ticks outside the allowed sessions (before the default first
# session 1990-01-01, after tomorrow): each is rejected alone, the rest of the flow carries on.
OUT_OF_RANGE_FILES = {
    "gbpusd-ticks.csv": "1970-01-02 15:00:00.000000+00:00",
    "usdchf-ticks.csv": "2099-01-02 15:00:00.000000+00:00",
}
N_TICKS = 8_000  # synthetic rows before keeping quotes only (TrueFX has no trades): ~6k quotes
VENDOR_FILE = "eurusd-ticks.csv"  # the TrueFX mapping takes the symbol from the file name

LANDING_INTERVAL_S = 5  # the daemon's sensor loop runs every 5 s: no point going lower
RETRAIN_INTERVAL_S = 15
TRAINING_TIMESTEPS = 2_048  # PPO still collects one full rollout (n_steps x n_envs)

STARTUP_TIMEOUT_S = 180.0
FLOW_TIMEOUT_S = 720.0  # from the drop to the policy_promotion materialization
POLL_S = 5.0
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
CHECKS = ("clean_ticks_expectations", "clean_ticks_reconcile", "clean_ticks_freshness")
SENSORS = ("landing_sensor", "landed_partitions_sensor", "retrain_sensor", "automation_sensor")
FLOW_JOBS = {  # job -> the sensor that must have launched it
    "ingest_landing": "landing_sensor",
    "tick_lake": "landed_partitions_sensor",
    "train_policy": "retrain_sensor",
}

METADATA_FIELDS = """
  label
  __typename
  ... on IntMetadataEntry { intValue }
  ... on FloatMetadataEntry { floatValue }
  ... on BoolMetadataEntry { boolValue }
  ... on TextMetadataEntry { text }
  ... on JsonMetadataEntry { jsonString }
"""
READY_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
}
"""
RUNS_QUERY = """
{
  runsOrError(limit: 100) {
    __typename
    ... on Runs {
      results { runId jobName status startTime endTime tags { key value } }
    }
    ... on PythonError { message }
  }
}
"""
SENSOR_QUERY = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(limit: 1) { status timestamp runIds skipReason error { message } }
      }
    }
  }
}
"""
MATERIALIZATIONS_QUERY = f"""
query Materializations($path: [String!]!, $partitions: [String!]) {{
  assetOrError(assetKey: {{path: $path}}) {{
    __typename
    ... on Asset {{
      assetMaterializations(partitions: $partitions, limit: 10) {{
        partition
        runId
        timestamp
        metadataEntries {{ {METADATA_FIELDS} }}
      }}
    }}
  }}
}}
"""
CHECKS_QUERY = """
query Checks($path: [String!]!, $check: String!, $partition: String) {
  assetCheckExecutions(
    assetKey: {path: $path}, checkName: $check, partition: $partition, limit: 5
  ) {
    runId
    status
    partition
    evaluation { success }
  }
}
"""
RUN_ERRORS_QUERY = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { message }
        ... on EngineEvent { message error { message } }
      }
    }
  }
}
"""


# ------------------------------------------------------------------------------ vendor file


def truefx_csv(day: date, n_ticks: int) -> bytes:
    """A TrueFX export (`timestamp,bid,ask`, ISO times with +00:00, as in the shared sample) of
    one day of realistic EURUSD quotes from the synthetic generator, without planted bad ticks."""
    windows = session_windows(instrument_for(SYMBOL).calendar, day)
    assert windows.size, f"{day} is not an FX session day"
    config = SyntheticConfig(
        seed=7, base_price=1.1, tick_size=0.00001, spread_ticks=8, bad_tick_rates={}
    )
    ticks = generate_ticks(
        SYMBOL, int(windows[0, 0]), int(windows[-1, 1]), config, n_ticks=n_ticks
    ).table
    quotes = ticks.filter(pc.equal(ticks.column("record_type"), "quote"))
    lines = ["timestamp,bid,ask"]
    for ts, bid, ask in zip(
        quotes.column("ts_event").to_pylist(),
        quotes.column("bid_price").to_pylist(),
        quotes.column("ask_price").to_pylist(),
        strict=True,
    ):
        lines.append(f"{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00,{bid:.5f},{ask:.5f}")
    return ("\n".join(lines) + "\n").encode()


def drop_file(folder: Path, name: str, content: bytes) -> Path:
    """Write as an uploader does: a dotfile (ignored by the landing sensor), then a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    partial.write_bytes(content)
    target = folder / name
    os.replace(partial, target)
    return target


# ----------------------------------------------------------------------------- dagster dev


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DagsterDev:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ctrl-C (dagster dev shuts its webserver, daemon and code servers down), then TERM and
        KILL the whole process group if anything is left; fails if a process survives."""
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        for sig, grace in ((signal.SIGINT, 60.0), (signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
            if not group_members(pgid):
                break
            try:
                if sig == signal.SIGINT:  # to the leader only, as a terminal's Ctrl-C would
                    self.process.send_signal(sig)
                else:
                    os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and group_members(pgid):
                self.process.poll()  # reap the leader
                time.sleep(0.5)
            if sig != signal.SIGINT and group_members(pgid):
                print(f"dagster dev: {sig.name} left {group_members(pgid)}", flush=True)
        self.process.poll()
        left = group_members(pgid)
        assert not left, f"orphaned dagster processes after stop: {left}"


@contextmanager
def dagster_dev(home: Path, data_root: Path, log: Path) -> Iterator[DagsterDev]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANT_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        QUANT_DEPLOYMENT="local",
        QUANT_DATA_ROOT=str(data_root),
        QUANT_RETRAIN_MIN_NEW_PARTITIONS="1",  # one landed day is enough to retrain
        QUANT_LANDING_SENSOR_INTERVAL_S=str(LANDING_INTERVAL_S),
        QUANT_RETRAIN_SENSOR_INTERVAL_S=str(RETRAIN_INTERVAL_S),
        QUANT_RETRAIN_TIMESTEPS=str(TRAINING_TIMESTEPS),
        # one landed session cannot hold train, an embargo session and test: no embargo here
        QUANT_RETRAIN_EMBARGO_SESSIONS="0",
        PYTHONUNBUFFERED="1",
    )
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-p", str(port), "-h", "127.0.0.1"]  # pyproject [tool.dg]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every child
        )
    dev = DagsterDev(process, f"http://127.0.0.1:{port}/graphql", log)
    try:
        yield dev
    finally:
        dev.stop()


# -------------------------------------------------------------------------------- GraphQL


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload: dict[str, Any] = json.loads(response.read())
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    data: dict[str, Any] = payload["data"]
    return data


def wait_until_ready(dev: DagsterDev, started: float) -> str:
    """Poll until the code location is loaded and the sensor daemon is healthy; returns the
    code location name."""
    deadline = started + STARTUP_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {dev.process.returncode}:\n{dev.tail()}")
        try:
            data = graphql(dev.url, READY_QUERY)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = f"endpoint not answering ({exc})"
        else:
            workspace = data["workspaceOrError"]
            entries = workspace.get("locationEntries", [])
            errors = [
                e["locationOrLoadError"]["message"]
                for e in entries
                if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"
            ]
            if errors:
                raise AssertionError(f"code location failed to load: {errors[0]}")
            loaded = [e["name"] for e in entries if e["loadStatus"] == "LOADED"]
            daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
            sensor_ok = any(d["daemonType"] == "SENSOR" and d["healthy"] for d in daemons)
            if loaded and sensor_ok:
                return str(loaded[0])
            last = f"locations loaded={loaded}, sensor daemon healthy={sensor_ok}"
        time.sleep(2.0)
    raise AssertionError(f"dagster dev not ready in {STARTUP_TIMEOUT_S:.0f}s: {last}\n{dev.tail()}")


def materializations(url: str, asset: str, partition: str) -> list[dict[str, Any]]:
    data = graphql(url, MATERIALIZATIONS_QUERY, {"path": [asset], "partitions": [partition]})
    node = data["assetOrError"]
    if node["__typename"] != "Asset":
        return []  # AssetNotFoundError: never materialized yet
    out = []
    for event in node["assetMaterializations"]:
        metadata = {}
        for entry in event["metadataEntries"]:
            values = [v for k, v in entry.items() if k not in ("label", "__typename")]
            value = values[0] if values else None
            if entry["__typename"] == "JsonMetadataEntry" and value is not None:
                value = json.loads(value)
            metadata[entry["label"]] = value
        out.append({**event, "metadata": metadata})
    return out


def run_errors(url: str, run_id: str) -> list[str]:
    data = graphql(url, RUN_ERRORS_QUERY, {"runId": run_id})
    events = data["logsForRun"].get("events", [])
    errors = []
    for e in events:
        if e["__typename"] == "ExecutionStepFailureEvent":
            errors.append(f"{e['stepKey']}: {(e.get('error') or {}).get('message', '').strip()}")
        elif e["__typename"] == "RunFailureEvent" or (e.get("error") or {}).get("message"):
            errors.append(str(e.get("message") or e["error"]["message"]).strip())
    return errors


@dataclass
class Progress:
    """What the flow has done so far, printed as it changes (the CI log shows where it stalled)."""

    url: str
    location: str
    started: float
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ticks: dict[str, str] = field(default_factory=dict)
    failed_ticks: dict[str, list[str]] = field(default_factory=dict)

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def poll(self) -> None:
        data = graphql(self.url, RUNS_QUERY)["runsOrError"]
        assert data["__typename"] == "Runs", data
        for run in reversed(data["results"]):
            tags = {t["key"]: t["value"] for t in run["tags"]}
            run = {**run, "tags": tags}
            previous = self.runs.get(run["runId"])
            if previous is None or previous["status"] != run["status"]:
                took = (
                    f" in {run['endTime'] - run['startTime']:.1f}s"
                    if run["endTime"] and run["startTime"]
                    else ""
                )
                self.say(
                    f"run {run['runId'][:8]} {run['jobName']} "
                    f"[{tags.get('dagster/partition', '-')}] "
                    f"by {tags.get('dagster/sensor_name', 'manual')}: {run['status']}{took}"
                )
                if run["status"] == "FAILURE":
                    for error in run_errors(self.url, run["runId"]):
                        self.say(f"  error: {error[:2000]}")
            self.runs[run["runId"]] = run
        for name in SENSORS:
            selector = {
                "repositoryLocationName": self.location,
                "repositoryName": "__repository__",
                "sensorName": name,
            }
            sensor = graphql(self.url, SENSOR_QUERY, {"selector": selector})["sensorOrError"]
            if sensor["__typename"] != "Sensor":
                continue
            ticks = sensor["sensorState"]["ticks"]
            if not ticks:
                continue
            tick = ticks[0]
            line = (
                f"{tick['status']} runs={len(tick['runIds'])}"
                + (f" skip={tick['skipReason']}" if tick["skipReason"] else "")
                + (f" error={tick['error']['message'][:500]}" if tick["error"] else "")
            )
            key = f"{tick['timestamp']}:{line}"
            if tick["status"] == "FAILURE":
                self.failed_ticks.setdefault(name, []).append(line)
            if self.ticks.get(name) != key:
                self.ticks[name] = key
                self.say(f"sensor {name} tick: {line}")

    def flow_finished(self) -> bool:
        """Every stage has a run and no run of the flow is queued or in progress."""
        jobs = {r["jobName"] for r in self.runs.values()}
        return FLOW_JOBS.keys() <= jobs and all(
            r["status"] in TERMINAL for r in self.runs.values() if r["jobName"] in FLOW_JOBS
        )

    def rejected_runs(self) -> list[dict[str, Any]]:
        """Ingest runs of the out-of-range files: these fail, by design."""
        return [
            r
            for r in self.runs.values()
            if r["jobName"] == "ingest_landing"
            and r["tags"].get("quant/landing_file", "").rsplit("/", 1)[-1] in OUT_OF_RANGE_FILES
        ]

    def failed_flow_runs(self) -> list[dict[str, Any]]:
        failed = TERMINAL - {"SUCCESS"}
        rejected = {r["runId"] for r in self.rejected_runs()}
        return [
            r
            for r in self.runs.values()
            if r["jobName"] in FLOW_JOBS and r["status"] in failed and r["runId"] not in rejected
        ]


# ----------------------------------------------------------------------------------- test


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_dagster_dev_dropped_vendor_file_trains_and_gates_policy(tmp_path: Path) -> None:
    started = time.monotonic()
    home, data_root = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    data_root.mkdir()
    ensure_local_instance(home)  # the dagster.yaml `quant` writes: queued runs fitted to cores
    content = truefx_csv(DAY, N_TICKS)
    n_quotes = content.count(b"\n") - 1

    with dagster_dev(home, data_root, tmp_path / "dagster_dev.log") as dev:
        try:
            location = wait_until_ready(dev, started)
            progress = Progress(dev.url, location, started)
            progress.say(f"dagster dev ready at {dev.url} (location {location})")

            incoming = data_root / "landing" / "incoming" / "truefx"
            for name, stamp in OUT_OF_RANGE_FILES.items():
                drop_file(incoming, name, f"timestamp,bid,ask\n{stamp},1.25,1.26\n".encode())
            landed = drop_file(incoming, VENDOR_FILE, content)
            dropped = time.monotonic()
            progress.say(f"dropped {landed} ({n_quotes} quotes of {SYMBOL} on {DAY})")

            # Done when the gate has decided, declarative automation has recalibrated the cost
            # model of the landed partition, and every run of the flow has finished.
            promotion: list[dict[str, Any]] = []
            costs: list[dict[str, Any]] = []

            def costs_done() -> bool:  # the automation run has finished, not just materialized
                run = progress.runs.get(costs[0]["runId"]) if costs else None
                return run is not None and run["status"] in TERMINAL

            while not (promotion and costs_done() and progress.flow_finished()):
                time.sleep(POLL_S)
                assert dev.process.poll() is None, f"dagster dev died:\n{dev.tail()}"
                progress.poll()
                failed = progress.failed_flow_runs()
                assert not failed, "flow run failed: " + ", ".join(
                    f"{r['jobName']} {r['runId']}" for r in failed
                )
                if not promotion:
                    promotion = materializations(dev.url, "policy_promotion", SYMBOL)
                    if promotion:
                        progress.say(f"policy_promotion materialized for {SYMBOL}")
                if not costs:
                    costs = materializations(dev.url, "cost_model_params", PARTITION)
                    if costs:
                        progress.say(f"cost_model_params materialized for {PARTITION}")
                if time.monotonic() - dropped > FLOW_TIMEOUT_S:
                    raise AssertionError(
                        f"flow not finished {FLOW_TIMEOUT_S:.0f}s after the drop "
                        f"(policy_promotion for {SYMBOL}: {bool(promotion)}, "
                        f"cost_model_params for {PARTITION}: {bool(costs)})"
                    )
            progress.say(f"flow finished {time.monotonic() - dropped:.1f}s after the drop")

            # One run per stage, each launched by its sensor, all succeeded.
            by_job: dict[str, list[dict[str, Any]]] = {}
            for run in progress.runs.values():
                by_job.setdefault(run["jobName"], []).append(run)
            rejected = progress.rejected_runs()
            assert len(rejected) == len(OUT_OF_RANGE_FILES), rejected
            assert all(r["status"] == "FAILURE" for r in rejected), rejected
            by_job["ingest_landing"] = [r for r in by_job["ingest_landing"] if r not in rejected]
            for job, sensor in FLOW_JOBS.items():
                runs = by_job.get(job, [])
                assert runs, f"no {job} run (expected one launched by {sensor})"
                assert all(r["tags"].get("dagster/sensor_name") == sensor for r in runs), runs
                assert all(r["status"] == "SUCCESS" for r in runs), runs
            # the rejected files never stopped a sensor
            assert not progress.failed_ticks, progress.failed_ticks
            (ingest,) = by_job["ingest_landing"]
            assert ingest["tags"]["quant/landing_file"].endswith(f"truefx/{VENDOR_FILE}")
            assert {r["tags"]["dagster/partition"] for r in by_job["tick_lake"]} == {PARTITION}
            (train,) = by_job["train_policy"]
            assert train["tags"]["dagster/partition"] == SYMBOL
            assert train["tags"]["quant/retrain_kind"] == "new_data"

            # The cost model recalibrated by the automation sensor (on by default), no manual step.
            (calibrated,) = costs[:1]
            automation = progress.runs[calibrated["runId"]]
            assert automation["tags"].get("dagster/from_automation_condition") == "true", automation
            assert automation["tags"].get("dagster/sensor_name") in (None, "automation_sensor")
            assert automation["status"] == "SUCCESS", automation
            # One run may calibrate the days downstream too (the trailing window): per partition.
            by_partition = calibrated["metadata"].get("by_partition") or {
                PARTITION: calibrated["metadata"]
            }
            assert by_partition[PARTITION]["calibrated"] >= 1, by_partition  # EURUSD's params

            # The tick lake partition, with its checks.
            (raw,) = materializations(dev.url, "raw_ticks", PARTITION)[:1]
            (clean,) = materializations(dev.url, "clean_ticks", PARTITION)[:1]
            assert raw["metadata"]["rows"] == n_quotes
            assert 0 < clean["metadata"]["rows"] <= n_quotes
            for check in CHECKS:
                executions = graphql(
                    dev.url,
                    CHECKS_QUERY,
                    {"path": ["clean_ticks"], "check": check, "partition": PARTITION},
                )["assetCheckExecutions"]
                assert executions, f"{check} never ran for {PARTITION}"
                latest = executions[0]
                assert latest["status"] == "SUCCEEDED", (check, latest)
                assert latest["evaluation"]["success"], (check, latest)

            # Training, evaluation and the gate, all from the sensor's run.
            (trained,) = materializations(dev.url, "trained_policy", SYMBOL)[:1]
            (evaluated,) = materializations(dev.url, "episodes", SYMBOL)[:1]
            (gated,) = promotion[:1]
            assert {trained["runId"], evaluated["runId"], gated["runId"]} == {train["runId"]}
            assert str(trained["metadata"]["reason"]).startswith("new_data: 1 new clean days")
            assert trained["metadata"]["last_training_day"] == DAY.isoformat()
            policy_id = trained["metadata"]["policy_id"]
            assert evaluated["metadata"]["challenger_policy_id"] == policy_id
            assert isinstance(gated["metadata"]["promoted"], bool)
            progress.say(
                f"policy {str(policy_id)[:12]} trained on {PARTITION} "
                f"({trained['metadata']['timesteps']} steps at {trained['metadata']['fps']} fps); "
                f"promoted={gated['metadata']['promoted']}: {gated['metadata']['reason']}"
            )
        except BaseException:
            print(f"--- dagster dev log (tail) ---\n{dev.tail()}", flush=True)
            raise

    # The landed file was archived, and the partition objects exist in the hive layout.
    assert not list((data_root / "landing" / "incoming").rglob("*.csv"))
    assert (data_root / "landing" / "archive" / "truefx" / VENDOR_FILE).is_file()
    for dataset in (Dataset.RAW, Dataset.CLEAN, Dataset.QUARANTINE):
        objects = list((data_root / partition_prefix(dataset, DAY, SYMBOL)).glob("part-*.parquet"))
        assert len(objects) == 1, (dataset, objects)
    # The out-of-range files were rejected, never archived, with the reason naming the place.
    for name in OUT_OF_RANGE_FILES:
        rejected_file = data_root / "landing" / "rejected" / "truefx" / name
        assert rejected_file.is_file() and not (data_root / "landing" / "archive" / name).exists()
        reason = rejected_file.with_name(name + ".reason.txt").read_text()
        assert name in reason and "line 2, column 'timestamp'" in reason, reason
        assert "allowed sessions 1990-01-01 to" in reason, reason

    # The warehouse, read after dagster dev let go of the DuckDB file.
    run_id = train["runId"]
    with duckdb.connect(str(data_root / "warehouse.duckdb"), read_only=True) as con:
        training = con.execute(
            "SELECT status, policy_id, json_extract_string(config, '$.reason') "
            "FROM training_runs WHERE run_id = ?",
            [run_id],
        ).fetchall()
        assert training == [("succeeded", policy_id, trained["metadata"]["reason"])]
        policies = con.execute(
            "SELECT count(*) FROM policies WHERE policy_id = ?", [policy_id]
        ).fetchone()
        assert policies == (1,)
        n_episodes, policies_evaluated = con.execute(
            "SELECT count(*), count(DISTINCT policy) FROM episodes WHERE evaluation_id = ?",
            [run_id],
        ).fetchone() or (0, 0)
        assert policies_evaluated >= 2  # the challenger and at least the flat baseline
        # the metadata counts the challenger's episodes; every policy runs the same windows
        assert n_episodes == evaluated["metadata"]["episodes"] * policies_evaluated > 0
        decisions = con.execute(
            "SELECT symbol, challenger, promoted FROM promotion_decisions WHERE evaluation_id = ?",
            [run_id],
        ).fetchall()
        assert decisions == [(SYMBOL, policy_id, gated["metadata"]["promoted"])]
        manifest = con.execute(
            "SELECT market, status, raw_rows FROM tick_manifest "
            "WHERE session_date = ? AND symbol = ?",
            [DAY, SYMBOL],
        ).fetchall()
        assert manifest == [("FX", "built", n_quotes)]

    print(f"end to end: {time.monotonic() - started:.1f}s wall", flush=True)
