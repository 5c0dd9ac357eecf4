"""Synthetic tick generator: determinism, microstructure sanity, known bad-tick injection."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.ticks.schema import TICK_SCHEMA
from quant_assets.lib.ticks.synthetic import (
    REASON_CODES,
    VALID_CONDITIONS,
    SyntheticConfig,
    generate_ticks,
)

OPEN, CLOSE = 1_719_927_000_000_000_000, 1_719_950_400_000_000_000  # 2024-07-02 XNYS 13:30-20:00Z
RATES = dict.fromkeys(REASON_CODES, 0.002)


def _np(table: pa.Table, col: str) -> np.ndarray:
    return table.column(col).to_numpy(zero_copy_only=False)


def test_generate_ticks_same_seed_symbol_session_identical() -> None:
    cfg = SyntheticConfig(seed=7, bad_tick_rates=RATES)
    a = generate_ticks("AAPL", OPEN, CLOSE, cfg, n_ticks=20_000)
    b = generate_ticks("AAPL", OPEN, CLOSE, cfg, n_ticks=20_000)
    assert a.table.equals(b.table) and a.reasons.equals(b.reasons)


def test_generate_ticks_other_symbol_or_seed_differs() -> None:
    base = generate_ticks("AAPL", OPEN, CLOSE, SyntheticConfig(seed=7), n_ticks=5_000)
    other_sym = generate_ticks("MSFT", OPEN, CLOSE, SyntheticConfig(seed=7), n_ticks=5_000)
    other_seed = generate_ticks("AAPL", OPEN, CLOSE, SyntheticConfig(seed=8), n_ticks=5_000)
    prices = _np(base.table, "bid_price")
    assert not np.array_equal(prices, _np(other_sym.table, "bid_price"), equal_nan=True)
    assert not np.array_equal(prices, _np(other_seed.table, "bid_price"), equal_nan=True)


def test_generate_ticks_default_count_is_poisson_around_mean() -> None:
    ticks = generate_ticks("AAPL", OPEN, CLOSE, SyntheticConfig(mean_ticks=10_000))
    assert abs(ticks.table.num_rows - 10_000) < 500
    assert ticks.table.schema == TICK_SCHEMA


def test_generate_ticks_injected_counts_match_rates() -> None:
    ticks = generate_ticks(
        "AAPL", OPEN, CLOSE, SyntheticConfig(bad_tick_rates=RATES), n_ticks=50_000
    )
    counts = ticks.counts()
    assert set(counts) == set(REASON_CODES)
    for reason in REASON_CODES:
        assert counts[reason] == pytest.approx(100, abs=2), reason
    assert int(ticks.is_bad.sum()) == sum(counts.values())


def test_generate_ticks_clean_rows_satisfy_every_rule() -> None:
    cfg = SyntheticConfig(bad_tick_rates=RATES)
    ticks = generate_ticks("AAPL", OPEN, CLOSE, cfg, n_ticks=50_000)
    t, bad = ticks.table, ticks.is_bad
    ts = _np(t, "ts_event").astype(np.int64)
    trade = _np(t, "record_type") == "trade"
    clean = ~bad
    assert ((ts[clean] >= OPEN) & (ts[clean] < CLOSE)).all()
    assert (np.diff(ts[clean]) > 0).all()  # strictly increasing once bad rows are removed
    bid, ask = _np(t, "bid_price"), _np(t, "ask_price")
    q = clean & ~trade
    assert (ask[q] - bid[q] >= cfg.tick_size - 1e-9).all()  # never locked or crossed
    spread = ask[q] - bid[q]
    assert spread.max() <= 20 * np.median(spread)
    # clean trades sit at or inside the last clean quote
    good_q = np.where(q, np.arange(len(q)), 0)
    last = np.maximum.accumulate(good_q)
    price, size = _np(t, "price"), _np(t, "size")
    ct = clean & trade
    assert (price[ct] >= bid[last[ct]] - 1e-9).all() and (price[ct] <= ask[last[ct]] + 1e-9).all()
    assert (size[ct] > 0).all() and (price[ct] > 0).all()
    conds = _np(t, "conditions")
    assert set(conds[ct]) <= VALID_CONDITIONS


def test_generate_ticks_bad_rows_show_their_defect() -> None:
    ticks = generate_ticks(
        "AAPL", OPEN, CLOSE, SyntheticConfig(bad_tick_rates=RATES), n_ticks=50_000
    )
    t = ticks.table
    reasons = ticks.reasons.to_numpy(zero_copy_only=False)
    ts = _np(t, "ts_event").astype(np.int64)
    bid, ask = _np(t, "bid_price"), _np(t, "ask_price")
    price, size = _np(t, "price"), _np(t, "size")
    rows = {r: np.flatnonzero(reasons == r) for r in REASON_CODES}
    assert (price[rows["nonpositive_price"]] <= 0).all()
    assert (size[rows["nonpositive_size"]] <= 0).all()
    assert (bid[rows["crossed_quote"]] > ask[rows["crossed_quote"]]).all()
    assert (bid[rows["locked_quote"]] == ask[rows["locked_quote"]]).all()
    out = rows["outside_session"]
    assert ((ts[out] < OPEN) | (ts[out] >= CLOSE)).all()
    nm = rows["non_monotonic_time"]
    assert (ts[nm] < ts[nm - 1]).all()
    assert not (set(_np(t, "conditions")[rows["invalid_condition"]]) & VALID_CONDITIONS)
    dup = rows["duplicate"]
    assert t.take(pa.array(dup)).equals(t.take(pa.array(dup - 1)))
    wide = rows["wide_spread"]
    clean_q = (reasons == None) & (_np(t, "record_type") == "quote")  # noqa: E711
    assert ((ask - bid)[wide] > 50 * np.median((ask - bid)[clean_q])).all()
    med = np.nanmedian(price)
    assert (np.abs(price[rows["price_outlier"]] / med - 1) > 0.03).all()


def test_generate_ticks_u_shaped_intensity_busier_at_open_and_close() -> None:
    cfg = SyntheticConfig(burstiness=0.0, bad_tick_rates={})
    ts = _np(generate_ticks("AAPL", OPEN, CLOSE, cfg, n_ticks=60_000).table, "ts_event")
    frac = (ts.astype(np.int64) - OPEN) / (CLOSE - OPEN)
    counts = np.histogram(frac, bins=10, range=(0, 1))[0]
    assert counts[0] > 1.5 * counts[5] and counts[-1] > 1.5 * counts[4]


def test_generate_ticks_no_bad_rates_means_no_reasons() -> None:
    ticks = generate_ticks("AAPL", OPEN, CLOSE, SyntheticConfig(bad_tick_rates={}), n_ticks=5_000)
    assert ticks.counts() == {} and ticks.reasons.null_count == 5_000
    rt = pc.value_counts(ticks.table.column("record_type")).to_pylist()
    share = {d["values"]: d["counts"] for d in rt}["trade"] / 5_000
    assert 0.2 < share < 0.3  # quote/trade ratio 3


def test_synthetic_config_unknown_reason_rejected() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        SyntheticConfig(bad_tick_rates={"bogus": 0.1})
