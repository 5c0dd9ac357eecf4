"""Tear sheet of one evaluation: a matplotlib PNG and a self-contained HTML report.

Panels (policy vs champion vs baselines, all on the pooled per-bar returns of the test folds):
equity (growth of 1) and drawdown against dated axes with fold boundaries, rolling annualised
Sharpe, distribution of per-bar returns (bps), costs by component (bps of traded notional), and a
per-fold table. The HTML embeds the PNG (base64), so it opens anywhere without other files.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from quant_assets.lib.evaluation.statistics import (
    PerformanceStats,
    ReturnSeries,
    drawdown,
    equity_curve,
    rolling_sharpe,
)

COLOURS = ("#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _dates(ts: np.ndarray) -> np.ndarray:
    return np.asarray(ts, dtype="datetime64[ns]")


def render_png(
    series: Mapping[str, ReturnSeries],
    stats: Sequence[PerformanceStats],
    folds: Sequence[Mapping[str, Any]],
    *,
    bars_per_year: float,
    title: str,
    rolling_bars: int | None = None,
) -> bytes:
    """The tear sheet figure as PNG bytes (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 11), dpi=90, layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[3, 1.4, 2, 1.6])
    ax_eq = fig.add_subplot(grid[0, :])
    ax_dd = fig.add_subplot(grid[1, :], sharex=ax_eq)
    ax_rs = fig.add_subplot(grid[2, 0])
    ax_hist = fig.add_subplot(grid[2, 1])
    ax_cost = fig.add_subplot(grid[3, 0])
    ax_tab = fig.add_subplot(grid[3, 1])
    n_max = max((s.n_bars for s in series.values()), default=0)
    window = rolling_bars or max(min(n_max // 5, 390), 10)
    boundaries: list[np.datetime64] = []
    for k, (name, s) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        if not s.n_bars:
            continue
        x = _dates(s.ts)
        eq = equity_curve(s.returns)[1:]
        width = 2.0 if k == 0 else 1.2
        ax_eq.plot(x, eq, color=colour, lw=width, label=name)
        ax_dd.fill_between(x, -drawdown(s.returns)[1:] * 100, 0, color=colour, alpha=0.25)
        ax_dd.plot(x, -drawdown(s.returns)[1:] * 100, color=colour, lw=0.8)
        ax_rs.plot(x, rolling_sharpe(s.returns, window, bars_per_year), color=colour, lw=1)
        active = s.returns[s.returns != 0] * 1e4
        if active.size:
            ax_hist.hist(active, bins=50, histtype="step", color=colour, label=name)
        if k == 0:
            starts = np.flatnonzero(np.diff(s.fold)) + 1
            boundaries = [x[i] for i in starts]
    for b in boundaries:
        for ax in (ax_eq, ax_dd):
            ax.axvline(b, color="k", ls=":", lw=0.8)  # type: ignore[arg-type]
    ax_eq.set_title(title)
    ax_eq.set_ylabel("equity (growth of 1)")
    ax_eq.legend(loc="upper left", fontsize=8, ncol=3)
    ax_eq.grid(alpha=0.3)
    ax_dd.set_ylabel("drawdown (%)")
    ax_dd.grid(alpha=0.3)
    locator = mdates.AutoDateLocator()
    for ax in (ax_dd, ax_rs):
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    plt.setp(ax_eq.get_xticklabels(), visible=False)
    ax_dd.set_xlabel("bar end (UTC); dotted: walk-forward fold boundaries")
    ax_rs.set_title(f"rolling Sharpe (annualised, {window} bars)")
    ax_rs.axhline(0, color="k", lw=0.5)
    ax_rs.grid(alpha=0.3)
    ax_hist.set_title("per-bar returns when not zero (bps of equity)")
    ax_hist.set_xlabel("bps")
    ax_hist.set_ylabel("bars")
    ax_hist.grid(alpha=0.3)

    traded = [s for s in stats if s.turnover_x_capital > 0]
    names = [s.policy for s in traded]
    bottom = np.zeros(len(traded))
    for label, attr, colour in (
        ("commission", "cost_commission_bps", "#9467bd"),
        ("spread", "cost_spread_bps", "#ff7f0e"),
        ("impact", "cost_impact_bps", "#8c564b"),
    ):
        values = np.array([getattr(s, attr) for s in traded])
        ax_cost.barh(names, values, left=bottom, color=colour, label=label)
        bottom += values
    ax_cost.set_title("costs by component (bps of traded notional)")
    ax_cost.set_xlabel("bps")
    if traded:
        ax_cost.legend(fontsize=8)

    ax_tab.axis("off")
    ax_tab.set_title("per fold: total return % / Sharpe (ann.)")
    if folds:
        policies = list(dict.fromkeys(str(r["policy"]) for r in folds))
        fold_ids = sorted({int(r["fold"]) for r in folds})
        cell = {(int(r["fold"]), str(r["policy"])): r for r in folds}
        text = [
            [
                (
                    f"{cell[f, p]['return_pct']:+.3f} / {cell[f, p]['sharpe_annual']:+.1f}"
                    if (f, p) in cell
                    else "-"
                )
                for p in policies
            ]
            for f in fold_ids
        ]
        table = ax_tab.table(
            cellText=text,
            rowLabels=[f"fold {f}" for f in fold_ids],
            colLabels=[p[:18] for p in policies],
            loc="center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        table.scale(1, 1.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.4g}"
    return html.escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    png: bytes,
    stats: Sequence[PerformanceStats],
    folds: Sequence[Mapping[str, Any]],
    *,
    title: str,
    facts: Mapping[str, Any],
) -> str:
    """A self-contained HTML report: facts, the figure, pooled statistics and the fold table."""
    img = base64.b64encode(png).decode()
    facts_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{_fmt(v)}</td></tr>" for k, v in facts.items()
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head>
<body><h1>{html.escape(title)}</h1>
<table>{facts_rows}</table>
<img alt="tear sheet" src="data:image/png;base64,{img}" style="max-width:100%">
<h2>Pooled statistics (per-bar returns over all test folds)</h2>
{_table([s.to_dict() for s in stats])}
<h2>Walk-forward folds</h2>
{_table(folds)}
</body></html>
"""
