"""calibrate(): hand-checkable estimates and a version that is stable and input-sensitive."""

from __future__ import annotations

import numpy as np
import pytest

from quant_assets.lib.costs import CostModelConfig, calibrate

T0 = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC
MIN = 60_000_000_000


def _inputs(n: int = 780) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    day = 86_400 * 1_000_000_000
    idx = np.arange(n)
    ts = T0 + (idx // 390) * day + (idx % 390) * MIN  # two sessions of 390 one-minute bars
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    volume = np.full(n, 1000.0)
    spread = close * 2e-4  # 2 bps
    return close, volume, spread, ts


def test_calibrate_two_days_gives_expected_adv_spread_and_profile() -> None:
    close, volume, spread, ts = _inputs()
    p = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60)
    assert p.adv == pytest.approx(390_000.0)
    assert p.median_spread_bps == pytest.approx(2.0)
    assert p.n_days == 2
    assert sum(p.volume_profile) == pytest.approx(1.0)
    assert p.volume_profile[29] == pytest.approx(30 / 390)  # 14:30-15:00 UTC bucket
    assert p.window_start.tzinfo is not None


def test_calibrate_daily_vol_excludes_overnight_gap() -> None:
    close, volume, spread, ts = _inputs()
    close = close.copy()
    close[390:] *= 1.5  # a huge overnight jump must not enter the intraday volatility
    p = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60)
    r = np.diff(np.log(close))
    r = np.delete(r, 389)
    expected = np.std(r, ddof=1) * np.sqrt(390)
    assert p.daily_vol == pytest.approx(expected)


def test_calibrate_same_inputs_same_version() -> None:
    a = calibrate(*_inputs()[:3], ts=_inputs()[3], symbol="X", bar_seconds=60)
    b = calibrate(*_inputs()[:3], ts=_inputs()[3], symbol="X", bar_seconds=60)
    assert a.version == b.version and len(a.version) == 64


@pytest.mark.parametrize("change", ["data", "config", "window", "symbol"])
def test_calibrate_changed_input_changes_version(change: str) -> None:
    close, volume, spread, ts = _inputs()
    base = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60)
    kwargs: dict[str, object] = {"ts": ts, "symbol": "X", "bar_seconds": 60}
    if change == "data":
        volume = volume.copy()
        volume[-1] += 1
    elif change == "config":
        kwargs["config"] = CostModelConfig(commission_per_share=0.001)
    elif change == "window":
        kwargs["window"] = 500
    else:
        kwargs["symbol"] = "Y"
    other = calibrate(close, volume, spread, **kwargs)  # type: ignore[arg-type]
    assert other.version != base.version


def test_calibrate_mismatched_lengths_raise() -> None:
    close, volume, spread, ts = _inputs()
    with pytest.raises(ValueError, match="equal length"):
        calibrate(close, volume[:-1], spread, ts=ts, symbol="X", bar_seconds=60)
