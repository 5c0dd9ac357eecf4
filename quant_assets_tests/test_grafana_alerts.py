"""Grafana alert rules (docker/grafana/provisioning/alerting/): every rule's SQL on a real
TimescaleDB, seeded once so that each rule fires and once so that none does, evaluated the way
Grafana does (reduce ``last`` over the query's ``value``, then the threshold expression)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from quant_assets.lib.warehouse import MetricPoint, TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

try:
    from quant_assets_tests.services import temporary_database
except ImportError:  # rootdir-relative imports
    from services import temporary_database  # type: ignore[no-redef]

ALERTING = Path(__file__).resolve().parents[1] / "docker/grafana/provisioning/alerting"
RULES_FILE = ALERTING / "quant_alerts.yaml"
EXPECTED = {
    "quant-failed-runs",
    "quant-quarantine-rate",
    "quant-metrics-lag",
    "quant-stale-cost-params",
    "quant-writer-spool-growing",
}
EVALUATORS: dict[str, Callable[[float, float], bool]] = {"gt": operator.gt, "lt": operator.lt}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def fires(dsn: str, rule: dict[str, Any]) -> tuple[bool, float]:
    data = {d["refId"]: d for d in rule["data"]}
    sql = data["A"]["model"]["rawSql"]
    assert data["A"]["datasourceUid"] == "timescaledb"
    with psycopg.connect(dsn, options="-c timezone=UTC") as conn:
        conn.read_only = True
        rows = conn.execute(sql).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, f"{rule['uid']}: one row, one value"
    value = float(rows[0][0])
    reduce_ = data["B"]["model"]
    assert (reduce_["type"], reduce_["expression"], reduce_["reducer"]) == ("reduce", "A", "last")
    threshold = data[rule["condition"]]["model"]
    assert threshold["type"] == "threshold" and threshold["expression"] == "B"
    evaluator = threshold["conditions"][0]["evaluator"]
    return EVALUATORS[evaluator["type"]](value, float(evaluator["params"][0])), value


def seed(wh: TimescaleWarehouse, *, bad: bool) -> None:
    now = datetime.now(tz=UTC)
    wh.record_run_failure(
        {
            "run_id": "r-failed",
            "job_name": "tick_lake",
            "partition_key": "2024-01-02|SPY",
            "error": "clean_ticks: ValueError: boom",
            "failed_at": now - (timedelta(minutes=2) if bad else timedelta(hours=2)),
        }
    )
    wh.record_ingestion_event(
        {
            "event_id": "e1",
            "recorded_at": now - timedelta(minutes=5),
            "asset": "clean_ticks",
            "partition_key": "2024-01-02|SPY",
            "source": None,
            "rows_in": 1000,
            "rows_clean": 800 if bad else 990,
            "rows_quarantined": 200 if bad else 10,
            "reasons": '{"bounce": 10}',
        }
    )
    wh.upsert_training_run(TrainingRun("run-live", "ppo", now - timedelta(hours=1)))
    last_metric = now - (timedelta(minutes=20) if bad else timedelta(seconds=10))
    spool = [0.0, 1.0, 3.0] if bad else [0.0, 0.0, 0.0]
    wh.write_metrics(
        [MetricPoint("run-live", "train/reward", 1, 0.5, last_metric)]
        + [
            MetricPoint(
                "run-live",
                "system/writer/spool_segments",
                i,
                v,
                now - timedelta(minutes=8 - 3 * i),
            )
            for i, v in enumerate(spool)
        ]
    )
    for symbol, age in (("SPY", timedelta(days=1)), ("QQQ", timedelta(days=10 if bad else 2))):
        wh.upsert_cost_model_params(symbol, "v1", now - age, {"spread_bps": 1.0})


@pytest.fixture(scope="module", params=["firing", "quiet"])
def seeded(request: pytest.FixtureRequest, tsdb_dsn: str) -> Iterator[tuple[str, bool]]:
    with temporary_database(tsdb_dsn, prefix="alerts") as dsn:
        wh = TimescaleWarehouse(dsn)
        try:
            wh.migrate()
            seed(wh, bad=request.param == "firing")
        finally:
            wh.close()
        yield dsn, request.param == "firing"


def test_alert_rules_file_has_the_five_rules_contact_point_and_policy() -> None:
    doc = yaml.safe_load(RULES_FILE.read_text())
    assert {r["uid"] for r in rules()} == EXPECTED
    assert doc["contactPoints"][0]["receivers"][0]["settings"]["url"] == (
        "${QUANT_ALERT_WEBHOOK_URL}"
    )
    assert doc["policies"][0]["receiver"] == doc["contactPoints"][0]["name"]
    for rule in rules():
        assert rule["annotations"]["summary"] and rule["labels"]["severity"] in {"page", "warn"}


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["uid"])
def test_alert_rule_sql_fires_on_bad_seed_quiet_on_good_seed(
    rule: dict[str, Any], seeded: tuple[str, bool]
) -> None:
    dsn, bad = seeded
    fired, value = fires(dsn, rule)
    assert fired is bad, f"{rule['uid']}: value {value} (seeded {'firing' if bad else 'quiet'})"


def test_alert_rules_empty_warehouse_no_alert(tsdb_dsn: str) -> None:
    """A fresh deployment (no rows yet) must not page anyone (noDataState aside)."""
    with temporary_database(tsdb_dsn, prefix="alerts") as dsn:
        wh = TimescaleWarehouse(dsn)
        try:
            wh.migrate()
        finally:
            wh.close()
        assert [r["uid"] for r in rules() if fires(dsn, r)[0]] == []
