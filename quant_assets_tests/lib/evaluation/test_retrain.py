"""Drift trigger: a one-sided test with a stated false-alarm rate."""

from __future__ import annotations

import numpy as np

from quant_assets.lib.evaluation.retrain import drift_test


def test_drift_test_losing_champion_signals() -> None:
    pnl = list(np.random.default_rng(1).normal(-1.0, 1.0, 16))
    drifted, p = drift_test(pnl, 0.05)
    assert drifted and p < 0.01


def test_drift_test_no_drift_false_alarm_rate_near_alpha() -> None:
    rng = np.random.default_rng(2)
    alarms = [drift_test(list(rng.standard_t(4, 8)), 0.05)[0] for _ in range(1000)]
    assert np.mean(alarms) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1000)


def test_drift_test_constant_or_single_episode_never_signals() -> None:
    assert drift_test([-1.0, -1.0, -1.0], 0.05) == (False, 1.0)
    assert drift_test([-5.0], 0.05) == (False, 1.0)
