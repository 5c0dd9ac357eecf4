"""Champion/challenger gate: paired bootstrap, margin, determinism, flat fallback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from quant_assets.lib.evaluation.episodes import EpisodeResult
from quant_assets.lib.evaluation.promotion import decide

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def _results(
    values: Sequence[float] | np.ndarray, policy: str, metric: str = "final_pnl", shift: int = 0
) -> list[EpisodeResult]:
    out = []
    for k, v in enumerate(values):
        fields = {m: 0.0 for m in ("ep_reward", "max_dd", "final_pnl", "sharpe", "turnover")}
        fields[metric] = float(v)
        out.append(
            EpisodeResult(
                episode_id=k,
                split="test",
                start_ts=T0 + timedelta(hours=k + shift),
                end_ts=T0 + timedelta(hours=k + 1 + shift),
                cost_commission=0.0,
                cost_spread=0.0,
                cost_impact=0.0,
                cost_total=0.0,
                n_trades=0,
                cost_model_version="v1",
                policy=policy,
                equity_curve=np.ones(2),
                **fields,  # type: ignore[arg-type]
            )
        )
    return out


CHAMPION = np.random.default_rng(5).normal(100.0, 50.0, 30)


def test_decide_clearly_better_challenger_promotes() -> None:
    rng = np.random.default_rng(101)
    challenger = CHAMPION + 40.0 + rng.normal(0.0, 5.0, 30)
    d = decide(_results(challenger, "new"), _results(CHAMPION, "old"), margin=10.0, seed=1)
    assert d.promote, d.reason
    assert d.reference == "champion" and d.n == 30
    assert d.mean_diff == pytest.approx(float(np.mean(challenger - CHAMPION)))
    assert 0 < d.lower_bound < d.mean_diff and d.ci_low < d.mean_diff < d.ci_high
    assert d.p_value == 0.0 and "promote" in d.reason


def test_decide_identical_challenger_keeps() -> None:
    d = decide(_results(CHAMPION, "new"), _results(CHAMPION, "old"), margin=0.0, seed=1)
    assert not d.promote and d.mean_diff == 0.0 and "<= margin" in d.reason


def test_decide_noisy_challenger_keeps_on_lower_bound() -> None:
    rng = np.random.default_rng(102)
    noise = rng.normal(0.0, 100.0, 30)
    noise = noise - noise.mean() + 5.0  # mean improvement 5 > margin 1, but sd 100 over 30 eps
    d = decide(_results(CHAMPION + noise, "new"), _results(CHAMPION, "old"), margin=1.0, seed=1)
    assert d.mean_diff == pytest.approx(5.0)
    assert not d.promote and d.lower_bound < 0 < d.p_value
    assert "noise" in d.reason


def test_decide_improvement_below_margin_keeps_above_margin_promotes() -> None:
    rng = np.random.default_rng(103)
    challenger = _results(CHAMPION + 20.0 + rng.normal(0.0, 1.0, 30), "new")
    champion = _results(CHAMPION, "old")
    assert not decide(challenger, champion, margin=25.0, seed=0).promote
    assert decide(challenger, champion, margin=15.0, seed=0).promote


def test_decide_same_seed_same_figures_other_seed_other_bounds() -> None:
    rng = np.random.default_rng(104)
    challenger = _results(CHAMPION + rng.normal(3.0, 20.0, 30), "new")
    champion = _results(CHAMPION, "old")
    a = decide(challenger, champion, margin=0.0, seed=7)
    b = decide(challenger, champion, margin=0.0, seed=7)
    c = decide(challenger, champion, margin=0.0, seed=8)
    assert a == b
    assert a.lower_bound != c.lower_bound and a.mean_diff == c.mean_diff


def test_decide_no_champion_beats_flat_by_margin_promotes() -> None:
    rng = np.random.default_rng(105)
    gains = rng.normal(50.0, 5.0, 10)
    d = decide(_results(gains, "new"), None, margin=20.0, seed=0)
    assert d.promote and d.reference == "flat" and d.reference_mean == 0.0
    assert not decide(_results(gains, "new"), None, margin=60.0, seed=0).promote


def test_decide_no_champion_losing_to_flat_keeps() -> None:
    rng = np.random.default_rng(106)
    d = decide(_results(rng.normal(-5.0, 1.0, 10), "new"), None, seed=0)
    assert not d.promote and d.mean_diff < 0


def test_decide_no_champion_with_flat_episodes_pairs_them() -> None:
    rng = np.random.default_rng(107)
    gains = rng.normal(50.0, 5.0, 10)
    d = decide(_results(gains, "new"), None, flat=_results(np.zeros(10), "flat"), seed=0)
    assert d.promote and d.reference == "flat"


def test_decide_mismatched_windows_raises() -> None:
    with pytest.raises(ValueError, match="windows differ"):
        decide(_results(CHAMPION, "new"), _results(CHAMPION, "old", shift=1), seed=0)


def test_decide_missing_episodes_raises() -> None:
    with pytest.raises(ValueError, match="episodes differ"):
        decide(_results(CHAMPION, "new"), _results(CHAMPION[:-1], "old"), seed=0)


def test_decide_lower_is_better_metric_lower_challenger_promotes() -> None:
    rng = np.random.default_rng(108)
    champ = _results(np.full(20, 0.10) + rng.normal(0, 0.005, 20), "old", metric="max_dd")
    chall = _results(np.full(20, 0.05) + rng.normal(0, 0.005, 20), "new", metric="max_dd")
    d = decide(chall, champ, metric="max_dd", margin=0.01, seed=0)
    assert d.promote and d.mean_diff == pytest.approx(0.05, abs=0.01)
    assert not decide(champ, chall, metric="max_dd", seed=0).promote


def test_decide_single_episode_keeps() -> None:
    d = decide(_results([1000.0], "new"), _results([0.0], "old"), seed=0)
    assert not d.promote and "need >= 2" in d.reason


def test_decide_unknown_metric_raises() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        decide(_results(CHAMPION, "new"), None, metric="vibes")
