"""An evaluation's stored evidence (per-bar returns and PnL as Parquet, the gate's facts as
JSON, under ``evaluations/<SYMBOL>/<evaluation_id>/``) and its tables for the UI."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quant_assets.lib.evaluation.statistics import PerformanceStats, ReturnSeries
from quant_assets.lib.storage.object_store import ObjectStore

if TYPE_CHECKING:
    from quant_assets.lib.evaluation.pipeline import Evaluation

RETURNS_FILE = "returns.parquet"
SUMMARY_FILE = "summary.json"


def save_evaluation(store: ObjectStore, prefix: str, evaluation: Evaluation) -> str:
    """Per-bar returns of every policy (Parquet) and the facts the gate needs (JSON)."""
    series = evaluation.series()
    table = pa.table(
        {
            "policy": pa.array([p for p, s in series.items() for _ in range(s.n_bars)]),
            "ts": pa.array(np.concatenate([s.ts for s in series.values()]), pa.int64()).cast(
                pa.timestamp("ns", tz="UTC")
            ),
            "fold": np.concatenate([s.fold for s in series.values()]),
            "return": np.concatenate([s.returns for s in series.values()]),
            "pnl_of_capital": np.concatenate([s.pnl_of_capital for s in series.values()]),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    store.write_bytes(f"{prefix}/{RETURNS_FILE}", buf.getvalue())
    summary = {
        "symbol": evaluation.symbol,
        "calendar": evaluation.calendar,
        "bar_seconds": evaluation.bar_seconds,
        "bars_per_year": evaluation.bars_per_year,
        "bars_per_session": evaluation.bars_per_session,
        "folds": evaluation.folds,
        "comparable_from_ns": evaluation.comparable_from_ns,
        "walk_forward": evaluation.walk_forward,
        "fold_models": [m.record() for m in evaluation.fold_models],
        "challenger": evaluation.challenger.name,
        "champion": evaluation.champion.name if evaluation.champion else None,
        "policies": {
            p: {
                "capital": s.capital,
                "traded_notional": s.traded_notional,
                "costs": dict(s.costs),
                "n_episodes": s.n_episodes,
                "n_trades": s.n_trades,
            }
            for p, s in series.items()
        },
    }
    store.write_bytes(f"{prefix}/{SUMMARY_FILE}", json.dumps(summary, indent=2).encode())
    return store.uri(prefix)


def load_evaluation(
    store: ObjectStore, prefix: str
) -> tuple[dict[str, Any], dict[str, ReturnSeries]]:
    summary = json.loads(store.read_bytes(f"{prefix}/{SUMMARY_FILE}"))
    table = pq.read_table(io.BytesIO(store.read_bytes(f"{prefix}/{RETURNS_FILE}")))
    policy = np.asarray(table["policy"].to_pylist())
    ts = table["ts"].cast(pa.int64()).to_numpy()
    fold = table["fold"].to_numpy()
    ret = table["return"].to_numpy()
    pnl = table["pnl_of_capital"].to_numpy() if "pnl_of_capital" in table.column_names else None
    out: dict[str, ReturnSeries] = {}
    for name, facts in summary["policies"].items():
        mask = policy == name
        out[name] = ReturnSeries(
            policy=name,
            ts=ts[mask].astype(np.int64),
            returns=ret[mask].astype(np.float64),
            fold=fold[mask].astype(np.int64),
            capital=float(facts["capital"]),
            traded_notional=float(facts["traded_notional"]),
            costs=facts["costs"],
            n_episodes=int(facts["n_episodes"]),
            n_trades=int(facts["n_trades"]),
            pnl=None if pnl is None else pnl[mask].astype(np.float64),
        )
    return summary, out


def fold_table(evaluation_series: dict[str, ReturnSeries], bpy: float) -> list[dict[str, Any]]:
    """Per fold and policy: bars, total return (%), annualised Sharpe, max drawdown (%)."""
    from quant_assets.lib.evaluation.statistics import (
        equity_curve,
        max_drawdown,
        sharpe_ratio,
    )

    rows: list[dict[str, Any]] = []
    folds = sorted({int(f) for s in evaluation_series.values() for f in s.fold})
    for f in folds:
        for name, s in evaluation_series.items():
            r = s.returns[s.fold == f]
            if not r.size:
                continue
            rows.append(
                {
                    "fold": f,
                    "policy": name,
                    "first_bar": datetime.fromtimestamp(
                        int(s.ts[s.fold == f][0]) / 1e9, tz=UTC
                    ).isoformat(),
                    "bars": int(r.size),
                    "return_pct": float(equity_curve(r)[-1] - 1) * 100,
                    "sharpe_annual": sharpe_ratio(r, bpy),
                    "max_drawdown_pct": max_drawdown(r) * 100,
                }
            )
    return rows


def stats_markdown(stats: Sequence[PerformanceStats]) -> str:
    """Pooled figures per policy, units in the header: what the UI shows for an evaluation."""
    cols = (
        ("bars", "n_bars", "{:,}"),
        ("total return %", "total_return_pct", "{:+.3f}"),
        ("Sharpe (ann.)", "sharpe_annual", "{:+.2f}"),
        ("Sortino (ann.)", "sortino_annual", "{:+.2f}"),
        ("max DD %", "max_drawdown_pct", "{:.3f}"),
        ("hit rate %", "hit_rate_pct", "{:.1f}"),
        ("turnover x capital", "turnover_x_capital", "{:.2f}"),
        ("trades", "n_trades", "{:,}"),
        ("cost bps of notional", "cost_total_bps", "{:.2f}"),
        ("commission bps", "cost_commission_bps", "{:.2f}"),
        ("spread bps", "cost_spread_bps", "{:.2f}"),
        ("impact bps", "cost_impact_bps", "{:.2f}"),
    )
    rows = [
        "| policy | " + " | ".join(c[0] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for s in stats:
        values = [fmt.format(getattr(s, attr)) for _, attr, fmt in cols]
        rows.append(f"| {s.policy} | " + " | ".join(values) + " |")
    return "\n".join(rows)


def folds_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The per-fold table of :func:`fold_table` as markdown."""
    lines = [
        "| fold | policy | first bar (UTC) | bars | return % | Sharpe (ann.) | max DD % |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['fold']} | {r['policy']} | {r['first_bar'][:16]} | {r['bars']:,} | "
            f"{r['return_pct']:+.3f} | {r['sharpe_annual']:+.2f} | {r['max_drawdown_pct']:.3f} |"
        )
    return "\n".join(lines)


def fold_models_markdown(records: Sequence[dict[str, Any]]) -> str:
    """Which model traded each fold and on what data it was fitted (UTC)."""
    lines = [
        "| fold | model | seed | timesteps | trained on | validation to | tested on |",
        "|---:|---|---:|---:|---|---|---|",
    ]
    for r in records:
        note = r.get("note") or ("the trained policy" if r["reused"] else "")
        model = f"{r['model_id'][:12]}{f' ({note})' if note else ''}"
        val = (r["validation_last"] or "")[:16]
        lines.append(
            f"| {r['fold']} | {model} | {r['seed']} | {r['timesteps']:,} | "
            f"{r['train_first'][:16]} to {r['train_last'][:16]} | {val} | "
            f"{r['test_first'][:16]} to {r['test_last'][:16]} |"
        )
    return "\n".join(lines)
