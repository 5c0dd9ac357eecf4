"""calibrate(): hand-checkable estimates and a version that is stable and input-sensitive."""

from __future__ import annotations

import numpy as np
import pytest

from quant_assets.lib.costs import CalibrationError, CostModelConfig, calibrate

T0 = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC
MIN = 60_000_000_000


def _inputs(n: int = 780) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    day = 86_400 * 1_000_000_000
    idx = np.arange(n)
    # two NYSE sessions of 390 one-minute bars, end-stamped 14:31 ... 21:00 UTC
    ts = T0 + (idx // 390) * day + (idx % 390 + 1) * MIN
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
    assert p.volume_profile[29] == pytest.approx(29 / 390)  # bars ending 14:31-14:59 UTC
    assert p.window_start.tzinfo is not None


def test_calibrate_daily_vol_intraday_scaled_per_session_excludes_overnight_gap() -> None:
    close, volume, spread, ts = _inputs()
    close = close.copy()
    close[390:] *= 1.5  # a huge overnight jump must not enter the intraday volatility
    p = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60)
    r = np.diff(np.log(close))
    # quoted (mid) prices: plain realised variance per session, scaled to 390 min from 389
    rv = [np.sum(r[:389] ** 2), np.sum(r[390:] ** 2)]
    expected = np.sqrt(np.mean(rv) * 390 / 389)
    assert p.daily_vol == pytest.approx(expected)
    assert p.provenance["daily_vol"].method == "intraday_rv"
    assert any("close-to-close" in w for w in p.warnings)


def _sessions(n_sessions: int, start: str = "2024-01-02") -> np.ndarray:
    """End-stamped one-minute bars covering ``n_sessions`` NYSE regular sessions."""
    from quant_assets.lib.ticks.sessions import get_calendar

    cal = get_calendar("XNYS")
    sessions = cal.sessions_in_range(start, "2024-03-01")[:n_sessions]
    out = []
    for sess in sessions:
        opened = cal.session_open(sess).value
        out.append(opened + MIN * np.arange(1, 391))
    return np.concatenate(out).astype(np.int64)


def test_calibrate_daily_vol_close_to_close_with_enough_sessions() -> None:
    ts = _sessions(7)
    n = ts.size
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    p = calibrate(close, np.full(n, 10.0), close * 1e-4, ts=ts, symbol="X", bar_seconds=60)
    session_close = np.log(close[389::390])
    assert p.daily_vol == pytest.approx(np.std(np.diff(session_close), ddof=1))
    assert p.provenance["daily_vol"].method == "close_to_close"
    assert p.provenance["daily_vol"].observations == 6


def test_calibrate_adv_per_session_of_a_futures_day_crossing_midnight() -> None:
    """Two CME sessions (23:00 to 23:00 UTC) touch three UTC dates; ADV is per session."""
    start = 1_704_668_400_000_000_000  # 2024-01-07 23:00 UTC, the 2024-01-08 session open
    ts = start + MIN * np.arange(1, 2 * 1440 + 1)
    close = np.full(ts.size, 4800.0) * np.exp(np.random.default_rng(2).normal(0, 1e-4, ts.size))
    p = calibrate(close, np.full(ts.size, 5.0), close * 1e-4, ts=ts, symbol="ESH4", bar_seconds=60)
    assert p.calendar == "CMES"
    assert p.adv == pytest.approx(1440 * 5.0)  # not 2 * 1440 * 5 / 3 UTC dates
    assert p.n_days == 2 and p.provenance["adv"].observations == 2


def test_calibrate_split_ending_mid_session_uses_full_sessions_only() -> None:
    close, volume, spread, ts = _inputs()
    p = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60, window=390 + 195)
    assert p.adv == pytest.approx(390_000.0)  # the half session is not averaged in
    assert p.provenance["adv"].method == "full_sessions"


def test_calibrate_sparse_bars_give_positive_volatility() -> None:
    close, volume, spread, ts = _inputs()
    sparse = slice(None, None, 3)  # a bar every 3 minutes: old rule saw no "contiguous" return
    p = calibrate(
        close[sparse], volume[sparse], spread[sparse], ts=ts[sparse], symbol="X", bar_seconds=60
    )
    assert 0.5 * 0.001 * np.sqrt(390) < p.daily_vol < 2 * 0.001 * np.sqrt(390)


def test_calibrate_trades_only_spread_from_roll_flagged_as_trades() -> None:
    ts = _sessions(2)
    rng = np.random.default_rng(3)
    mid = 50 * np.exp(np.cumsum(rng.normal(0, 1e-6, ts.size)))
    close = mid * (1 + 5e-4 * rng.choice([-1.0, 1.0], ts.size))  # 10 bp spread, random side
    nan = np.full(ts.size, np.nan)
    p = calibrate(close, np.full(ts.size, 1.0), nan, ts=ts, symbol="X", bar_seconds=60)
    assert p.provenance["spread"].source == "trades"
    assert p.provenance["spread"].method == "roll"
    assert p.median_spread_bps == pytest.approx(10.0, rel=0.1)
    # bounce-corrected intraday volatility removes most of the bounce's variance
    r = np.diff(np.log(close))
    raw = np.sqrt(np.mean([np.sum(r[:389] ** 2), np.sum(r[390:] ** 2)]) * 390 / 389)
    assert p.daily_vol < 0.2 * raw
    assert p.provenance["daily_vol"].method == "intraday_rv_ac1"


def test_calibrate_no_quotes_and_no_roll_falls_back_with_warning() -> None:
    ts = _sessions(1)
    close = 100 * np.exp(np.cumsum(np.full(ts.size, 1e-4) * (1 + np.sin(np.arange(ts.size)))))
    nan = np.full(ts.size, np.nan)
    p = calibrate(close, np.full(ts.size, 1.0), nan, ts=ts, symbol="X", bar_seconds=60)
    assert p.provenance["spread"].source == "fallback"
    assert p.median_spread_bps == CostModelConfig().fixed_spread_bps
    assert any(w.startswith("spread: ") for w in p.warnings)


def test_calibrate_short_window_warns_with_minutes_covered() -> None:
    close, volume, spread, ts = _inputs()
    p = calibrate(close, volume, spread, ts=ts, symbol="X", bar_seconds=60, window=6)
    assert p.provenance["adv"].minutes == pytest.approx(6.0)
    assert any(w.startswith("short window: 6 minutes") for w in p.warnings)
    assert any(w.startswith("adv: no session covered") for w in p.warnings)


def test_calibrate_zero_volume_without_fallback_is_refused_not_floored() -> None:
    close, volume, spread, ts = _inputs()
    config = CostModelConfig(fallback_adv=None)
    with pytest.raises(CalibrationError, match="ADV would be 0"):
        calibrate(close, volume * 0, spread, ts=ts, symbol="X", bar_seconds=60, config=config)


def test_calibrate_zero_volume_quote_feed_uses_flagged_fallback_adv() -> None:
    close, volume, spread, ts = _inputs()
    p = calibrate(close, volume * 0, spread, ts=ts, symbol="X", bar_seconds=60)
    assert p.adv == CostModelConfig().fallback_adv
    assert p.provenance["adv"].source == "fallback"
    assert any(w.startswith("adv: no traded volume") for w in p.warnings)
    assert all(np.isfinite(p.volume_profile)) and sum(p.volume_profile) == pytest.approx(1.0)
    p.model_dump_json()  # stored and shown as JSON: every value finite


@pytest.mark.parametrize(
    ("symbol", "seconds", "per_year"),
    [("X", 23_400.0, (250, 253)), ("BTCUSDT", 86_400.0, (365, 366))],
)
def test_calibrate_annualisation_from_the_calendar(
    symbol: str, seconds: float, per_year: tuple[int, int]
) -> None:
    close, volume, spread, ts = _inputs()
    p = calibrate(close, volume, spread, ts=ts, symbol=symbol, bar_seconds=60)
    assert p.session_seconds == seconds
    assert per_year[0] <= p.sessions_per_year <= per_year[1]


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
