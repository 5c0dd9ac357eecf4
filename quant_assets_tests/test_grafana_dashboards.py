"""Grafana provisioning: files parse, and every panel's SQL runs on a real, seeded TimescaleDB.

Grafana's PostgreSQL datasource rewrites macros and template variables before it sends a query;
``render`` does the same here (``$__timeFilter``, ``$__timeFrom/To``, ``$__timeGroup[Alias]`` in
both the time_bucket and the plain-PostgreSQL form, ``$__interval``, multi-value variables
quoted and comma-joined), so a panel that would error or come back empty in Grafana fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.warehouse import EpisodeRecord, TrainingRun
from quant_assets.lib.warehouse.timescale_backend import TimescaleWarehouse

try:
    from quant_assets_tests.services import temporary_database
except ImportError:  # rootdir-relative imports
    from services import temporary_database  # type: ignore[no-redef]

GRAFANA = Path(__file__).resolve().parents[1] / "docker" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
NOW = datetime.now(tz=UTC).replace(microsecond=0)
TIME_FROM, TIME_TO = NOW - timedelta(days=7), NOW + timedelta(minutes=1)
NUMBER = (int, float, Decimal)
INTERVAL = "1m"  # what Grafana would pick for a 7-day range on a wide panel is coarser; any works


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panel_cases() -> list[Any]:
    """Each panel with the TimescaleDB datasource setting, and a second time with the setting
    off where the SQL has ``$__timeGroup`` (the only macro it changes)."""
    cases = []
    for path in DASHBOARDS:
        for panel in load(path)["panels"]:
            sql = panel["targets"][0]["rawSql"]
            for timescaledb in (True, False) if "$__timeGroup" in sql else (True,):
                form = "time_bucket" if timescaledb else "plain_pg"
                case_id = f"{path.stem}:{panel['title']}:{form}"
                cases.append(pytest.param(path.stem, panel, timescaledb, id=case_id))
    return cases


# --------------------------------------------------------------------------- Grafana's rewriting


def _grafana_time(t: datetime) -> str:
    return "'" + t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def _seconds(interval: str) -> int:
    number, unit = re.fullmatch(r"\s*'?(\d+)([smhdw])'?\s*", interval).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]


def render(sql: str, variables: dict[str, list[str]], *, timescaledb: bool) -> str:
    """The SQL Grafana would send for ``sql`` over [TIME_FROM, TIME_TO]."""

    def time_group(match: re.Match[str]) -> str:
        column, interval = (a.strip() for a in match.group(2).split(",")[:2])
        seconds = _seconds(interval)
        if timescaledb:
            expr = f"time_bucket('{seconds}s',{column})"
        else:
            expr = f"floor(extract(epoch from {column})/{seconds})*{seconds}"
        return expr + (' AS "time"' if match.group(1) == "Alias" else "")

    out = re.sub(r"\$__timeGroup(Alias)?\(([^)]*)\)", time_group, sql)
    out = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m.group(1).strip()} BETWEEN {_grafana_time(TIME_FROM)} AND "
        f"{_grafana_time(TIME_TO)}",
        out,
    )
    out = out.replace("$__timeFrom()", _grafana_time(TIME_FROM))
    out = out.replace("$__timeTo()", _grafana_time(TIME_TO))
    out = out.replace("$__interval_ms", str(_seconds(INTERVAL) * 1000))
    out = out.replace("$__interval", INTERVAL)
    for name, values in variables.items():
        quoted = ",".join("'" + v.replace("'", "''") + "'" for v in values)
        pattern = rf"\$\{{{name}\}}|\[\[{name}\]\]|\${name}\b"
        out = re.sub(pattern, quoted.replace("\\", "\\\\"), out)
    leftover = re.findall(r"\$\{?\w+|\[\[\w+\]\]", out)
    assert not leftover, f"unsubstituted Grafana variables/macros {leftover} in:\n{out}"
    return out


# --------------------------------------------------------------------------- seeded warehouse


@pytest.fixture(scope="module")
def seeded_dsn(tsdb_dsn: str) -> Iterator[str]:
    """One database for the module (the queries only read), seeded through the Warehouse API."""
    with temporary_database(tsdb_dsn, prefix="grafana") as dsn:
        wh = TimescaleWarehouse(dsn)
        try:
            wh.migrate()
            seed(wh)
        finally:
            wh.close()
        yield dsn


def seed(wh: TimescaleWarehouse) -> None:
    wh.upsert_training_run(TrainingRun("run-live", "ppo", NOW - timedelta(hours=2)))
    wh.upsert_training_run(
        TrainingRun(
            "run-done",
            "ppo",
            NOW - timedelta(days=1, hours=3),
            ended_at=NOW - timedelta(days=1),
            status="completed",
        )
    )
    points = [
        {"time": NOW - timedelta(minutes=i), "run_id": "run-live", "step": 60 - i}
        for i in range(60)
    ] + [
        {"time": NOW - timedelta(days=1, minutes=i), "run_id": "run-done", "step": 30 - i}
        for i in range(30)
    ]
    wh.write_metrics(
        [
            _point(p, name, float(p["step"]) * k)
            for p in points
            for k, name in enumerate(("train/reward", "train/loss"), start=1)
        ]
    )
    episodes = [
        EpisodeRecord(
            run_id="run-done",
            episode_id=i,
            split="test",
            start_ts=NOW - timedelta(days=3, hours=10 - i),
            end_ts=NOW - timedelta(days=3, hours=9 - i),
            ep_reward=0.1 * i - (0.2 if policy == "flat" else 0.0),
            max_dd=0.01 * (i + 1),  # drawdowns are positive fractions
            final_pnl=10.0 * i,
            sharpe=0.5,
            turnover=1.0,
            cost_total=0.2,
            n_trades=3,
            evaluation_id="eval-1",
            policy=policy,
        )
        for policy in ("ppo-challenger", "ppo-champion", "flat")
        for i in range(5)
    ]
    wh.write_episodes(episodes)
    wh.record_promotion_decision(
        {
            "evaluation_id": "eval-1",
            "symbol": "SPY",
            "alias": "SPY/champion",
            "challenger": "ppo-challenger",
            "champion": "ppo-champion",
            "promoted": True,
            "reason": "lower bound above margin",
            "metric": "ep_reward",
            "margin": 0.0,
            "n_episodes": 5,
            "mean_diff": 0.1,
            "ci_low": 0.02,
            "ci_high": 0.2,
            "lower_bound": 0.02,
            "p_value": 0.01,
            "decided_at": NOW - timedelta(hours=1),
        }
    )
    for i, (asset, key) in enumerate(
        [("landing_files", "2024-01-02|SPY"), ("clean_ticks", "2024-01-02|SPY")]
    ):
        wh.record_ingestion_event(
            {
                "event_id": f"e{i}",
                "recorded_at": NOW - timedelta(hours=1),
                "asset": asset,
                "partition_key": key,
                "source": "synthetic",
                "rows_in": 1000,
                "rows_clean": 990 if asset == "clean_ticks" else None,
                "rows_quarantined": 10 if asset == "clean_ticks" else None,
                "reasons": None,
            }
        )
    wh.record_run_failure(
        {
            "run_id": "r-failed",
            "job_name": "ingest_landing",
            "partition_key": "truefx/bad.csv",
            "error": "line 3, column 'bid'",
            "failed_at": NOW - timedelta(hours=1),
        }
    )
    wh.upsert_tick_manifest(
        [
            ManifestEntry(
                session_date=date(2024, 1, 2),
                symbol=symbol,
                market="XNYS",
                status="built",
                raw_rows=1000,
                clean_rows=1000 - quarantined,
                quarantined_rows=quarantined,
                raw_version="r",
                clean_version="c",
                quarantine_version="q",
                raw_key="k",
                clean_key="k",
                quarantine_key="k",
                reasons=reasons,
                built_at=NOW - timedelta(hours=1),
            ).to_row()
            for symbol, quarantined, reasons in (
                ("SPY", 10, {"crossed_quote": 7, "price_outlier": 3}),
                ("QQQ", 0, {}),
            )
        ]
    )
    wh.upsert_cost_model_params("SPY", "v1", NOW - timedelta(days=1), {"median_spread_bps": 1.0})
    wh.upsert_cost_model_params("ESZ4", "v1", NOW - timedelta(days=5), {"median_spread_bps": 2.0})


def _point(p: dict[str, Any], name: str, value: float) -> Any:
    from quant_assets.lib.warehouse import MetricPoint

    return MetricPoint(p["run_id"], name, p["step"], value, p["time"])


def run_sql(dsn: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with psycopg.connect(dsn, options="-c timezone=UTC") as conn, conn.cursor() as cur:
        conn.read_only = True  # dashboards only read (the datasource role is read-only too)
        cur.execute(sql.encode("utf-8"))  # bytes: no client-side parameter parsing
        assert cur.description is not None
        return [d.name for d in cur.description], cur.fetchall()


def resolve_variables(dsn: str, dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Run each variable's query in order, selecting every value it offers."""
    values: dict[str, list[str]] = {}
    for var in dashboard["templating"]["list"]:
        _, rows = run_sql(dsn, render(var["query"], values, timescaledb=True))
        assert rows, f"variable {var['name']} offers no values"
        values[var["name"]] = [str(r[0]) for r in rows]
    return values


# --------------------------------------------------------------------------- tests


def test_grafana_datasource_yaml_parses_with_env_connection_and_timescaledb() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/timescaledb.yaml").read_text())
    (ds,) = config["datasources"]
    assert config["apiVersion"] == 1
    assert ds["uid"] == "timescaledb" and ds["type"] == "grafana-postgresql-datasource"
    assert re.fullmatch(r"\$\{\w+\}:\$\{\w+\}", ds["url"])
    assert ds["user"].startswith("${") and ds["secureJsonData"]["password"].startswith("${")
    assert ds["jsonData"]["database"].startswith("${")
    assert ds["jsonData"]["timescaledb"] is True


def test_grafana_dashboard_provider_yaml_parses_file_provider() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yaml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_grafana_dashboards_all_panels_on_provisioned_datasource_unique_ids() -> None:
    assert [p.stem for p in DASHBOARDS] == ["evaluation", "ingestion", "training"]
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        ids = [panel["id"] for panel in load(path)["panels"]]
        assert len(set(ids)) == len(ids), path.name
        for panel in load(path)["panels"]:
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "timescaledb"
                assert target["format"] in {"time_series", "table"}


@pytest.mark.parametrize(("dashboard", "panel", "timescaledb"), panel_cases())
def test_grafana_panel_sql_on_seeded_tsdb_returns_rows_with_declared_columns(
    seeded_dsn: str, dashboard: str, panel: dict[str, Any], timescaledb: bool
) -> None:
    sql = panel["targets"][0]["rawSql"]
    variables = resolve_variables(seeded_dsn, load(GRAFANA / "dashboards" / f"{dashboard}.json"))

    columns, rows = run_sql(seeded_dsn, render(sql, variables, timescaledb=timescaledb))

    assert rows, f"{dashboard}: {panel['title']} returned no rows"
    if panel["targets"][0]["format"] == "time_series":
        assert columns[0] == "time"
        assert all(isinstance(r[0], datetime | Decimal) for r in rows)  # time or epoch
        values = [i for i, c in enumerate(columns) if c not in {"time", "metric"}]
        assert values, f"{panel['title']}: no value column in {columns}"
        for row in rows:  # Grafana draws numbers; the series name comes from "metric"
            assert all(row[i] is None or isinstance(row[i], NUMBER) for i in values), row
            assert "metric" not in columns or isinstance(row[columns.index("metric")], str)
    else:
        (organize,) = [t for t in panel["transformations"] if t["id"] == "organize"]
        declared = sorted(
            organize["options"]["indexByName"], key=organize["options"]["indexByName"].get
        )
        assert columns == declared


def _panel(dashboard: str, panel_id: int) -> dict[str, Any]:
    (panel,) = [
        p
        for p in load(GRAFANA / "dashboards" / f"{dashboard}.json")["panels"]
        if p["id"] == panel_id
    ]
    return panel


def _rows(dsn: str, dashboard: str, panel_id: int) -> list[dict[str, Any]]:
    variables = resolve_variables(dsn, load(GRAFANA / "dashboards" / f"{dashboard}.json"))
    sql = render(_panel(dashboard, panel_id)["targets"][0]["rawSql"], variables, timescaledb=True)
    columns, rows = run_sql(dsn, sql)
    return [dict(zip(columns, r, strict=True)) for r in rows]


def test_grafana_worst_drawdown_is_the_largest_positive_drawdown(seeded_dsn: str) -> None:
    rows = _rows(seeded_dsn, "evaluation", 1)
    assert {float(r["worst_drawdown_pct"]) for r in rows} == {5.0}  # max of 1..5 %


def test_grafana_quarantine_by_rule_and_by_symbol(seeded_dsn: str) -> None:
    by_rule = {r["rule"]: int(r["quarantined_rows"]) for r in _rows(seeded_dsn, "ingestion", 9)}
    assert by_rule == {"crossed_quote": 7, "price_outlier": 3}
    spy, qqq = _rows(seeded_dsn, "ingestion", 10)
    assert (spy["symbol"], float(spy["quarantine_pct"])) == ("SPY", 1.0)
    assert (qqq["symbol"], float(qqq["quarantine_pct"])) == ("QQQ", 0.0)


def test_grafana_training_curves_by_step_for_runs_of_any_age(seeded_dsn: str) -> None:
    panel = _panel("training", 6)
    assert panel["type"] == "xychart" and panel["repeat"] == "metric"
    assert "$__timeFilter" not in panel["targets"][0]["rawSql"]  # old runs are not cut off
    rows = _rows(seeded_dsn, "training", 6)
    done = [int(r["step"]) for r in rows if r["run_id"] == "run-done"]
    assert done == sorted(done) and len(done) == 2 * 30  # both metrics, every step
    assert load(GRAFANA / "dashboards" / "training.json")["time"]["from"] == "now-30d"
