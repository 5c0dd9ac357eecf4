"""Tear sheet: a real matplotlib PNG with every panel, and a self-contained HTML report."""

from __future__ import annotations

import base64
import io

import numpy as np

from quant_assets.lib.evaluation.episodes import evaluate_policy, to_series
from quant_assets.lib.evaluation.evidence import fold_table
from quant_assets.lib.evaluation.statistics import performance
from quant_assets.lib.evaluation.tearsheet import render_html, render_png
from quant_assets.lib.trading.bars import random_walk_bars
from quant_assets.lib.trading.env import TradingEnvConfig

ENV = TradingEnvConfig(window=8, norm_window=50)


def _evaluation() -> tuple[dict, list, list]:  # type: ignore[type-arg]
    bars = random_walk_bars(600, seed=3)
    results = evaluate_policy(
        lambda obs: np.array([-1.0 if obs[-4] > 0 else 1.0], dtype=np.float32),
        bars,
        n_episodes=4,
        folds=2,
        env_config=ENV,
        policy_name="reversal",
    )
    series = {
        p: to_series([r for r in results if r.policy == p], ENV.capital)
        for p in dict.fromkeys(r.policy for r in results)
    }
    stats = [performance(s, bars_per_year=97_764, bars_per_session=390) for s in series.values()]
    return series, stats, fold_table(series, 97_764)


def test_render_png_decodes_to_a_large_figure() -> None:
    import matplotlib.image as mpimg

    series, stats, folds = _evaluation()
    png = render_png(series, stats, folds, bars_per_year=97_764, title="SYN reversal")
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.shape[0] > 800 and img.shape[1] > 1000
    assert img[..., :3].std() > 0.05  # not blank: curves, bars, table


def test_fold_table_one_row_per_fold_and_policy() -> None:
    series, _, folds = _evaluation()
    assert len(folds) == 2 * len(series)
    assert {r["fold"] for r in folds} == {0, 1}
    assert all(r["bars"] > 0 and r["first_bar"].endswith("+00:00") for r in folds)


def test_render_html_embeds_png_and_tables() -> None:
    _, stats, folds = _evaluation()
    page = render_html(b"\x89PNG-bytes", stats, folds, title="t <1>", facts={"symbol": "SYN"})
    assert base64.b64encode(b"\x89PNG-bytes").decode() in page
    assert "t &lt;1&gt;" in page and "sharpe_annual" in page and "matched_null" in page


def test_folds_markdown_one_line_per_row() -> None:
    from quant_assets.lib.evaluation.evidence import folds_markdown

    _, _, folds = _evaluation()
    md = folds_markdown(folds)
    assert md.count("\n") == len(folds) + 1 and "| 1 | reversal |" in md
