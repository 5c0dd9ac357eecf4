from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from quant_assets.lib.ticks import cleaning as c
from quant_assets.lib.ticks.schema import conform
from quant_assets.lib.ticks.sessions import session_windows

NS = 1_000_000_000
OPEN = int(np.datetime64("2024-01-02T14:30:00", "ns").astype(np.int64))
WINDOWS = session_windows("XNYS", date(2024, 1, 2))


def ticks(rows: list[dict[str, object]]) -> pa.Table:
    base = {"symbol": "SPY", "source": "test"}
    cols: dict[str, list[object]] = {}
    for row in rows:
        full = {**base, **row}
        for k in set(cols) | set(full):
            cols.setdefault(k, [None] * (len(next(iter(cols.values()), [])) if cols else 0))
        for k in cols:
            cols[k].append(full.get(k))
    table = pa.table(
        {
            k: pa.array(v, type=pa.timestamp("ns", tz="UTC")) if k.startswith("ts_") else v
            for k, v in cols.items()
        }
    )
    return conform(table)


def quote(
    t: float, bid: float | None = 100.0, ask: float = 100.02, **kw: object
) -> dict[str, object]:
    return {
        "ts_event": OPEN + int(t * NS),
        "record_type": "quote",
        "bid_price": bid,
        "ask_price": ask,
        "bid_size": 100.0,
        "ask_size": 100.0,
        **kw,
    }


def trade(t: float, price: float = 100.01, size: float = 10.0, **kw: object) -> dict[str, object]:
    return {
        "ts_event": OPEN + int(t * NS),
        "record_type": "trade",
        "price": price,
        "size": size,
        **kw,
    }


def test_local_time_spikes_late_spike_flags_only_spike() -> None:
    ts = np.array([1, 2, 100, 3, 4, 5])
    assert c.local_time_spikes(ts).tolist() == [False, False, True, False, False, False]


def test_behind_running_max_block_shift_flags_rows_behind() -> None:
    ts = np.array([1, 2, 10, 11, 4, 5, 12])
    assert np.flatnonzero(c.behind_running_max(ts)).tolist() == [4, 5]


def test_merge_order_key_stable_sort_keeps_source_order() -> None:
    key = c.merge_order_key(np.array([1, 2, 100, 3, 4]))
    assert key.tolist() == [1, 2, 2, 3, 4]  # the late spike must not drag the rows after it


def test_local_time_spikes_ambiguous_pair_flags_only_the_late_arrival() -> None:
    assert c.local_time_spikes(np.array([1, 5, 3, 7])).tolist() == [False, False, True, False]


def test_local_time_spikes_early_row_flagged() -> None:
    ts = np.array([1, 2, 3, 0, 4, 5])
    assert np.flatnonzero(c.local_time_spikes(ts)).tolist() == [3]


def test_exact_duplicates_second_copy_flagged_first_kept() -> None:
    t = ticks([trade(1), trade(1), trade(1, price=100.02), trade(2)])
    flags = c.exact_duplicates(t, t.column("ts_event").cast(pa.int64()).to_numpy())
    assert flags.tolist() == [False, True, False, False]


def test_outside_sessions_before_open_and_weekend_flagged() -> None:
    ts = np.array([OPEN - NS, OPEN, OPEN + 3600 * NS])
    assert c.outside_sessions(ts, WINDOWS).tolist() == [True, False, False]
    assert c.outside_sessions(ts, np.empty((0, 2), dtype=np.int64)).all()


def test_invalid_conditions_unknown_code_flagged_null_ok() -> None:
    arr = pa.array(["@", "@,F", "Z", None, "@,Z"])
    flags = c.invalid_conditions(arr, frozenset({"@", "F"}))
    assert flags.tolist() == [False, False, True, False, True]


def test_wide_spreads_above_fifty_medians_flagged() -> None:
    spread = np.array([0.01] * 20 + [0.51, 0.49])
    mid = np.full(spread.size, 100.0)
    assert np.flatnonzero(c.wide_spreads(spread, mid, 50.0, 10.0)).tolist() == [20]


def test_wide_spreads_below_bps_floor_kept() -> None:
    spread = np.array([0.01] * 20 + [5.0])  # 500x the median but 1.3 bps of a BTC price
    mid = np.full(spread.size, 39_000.0)
    assert not c.wide_spreads(spread, mid, 50.0, 10.0).any()


def test_rolling_outliers_single_spike_flagged_neighbours_kept() -> None:
    rng = np.random.default_rng(1)
    x = 100 + np.cumsum(rng.normal(0, 0.01, 500))
    x[250] += 5.0
    flags = c.rolling_outliers(x, 50, 10.0, 10)
    assert np.flatnonzero(flags).tolist() == [250]


def test_centred_rolling_median_matches_direct_median() -> None:
    x = np.random.default_rng(2).normal(size=200)
    got = c.centred_rolling_median(x, 50)
    assert got[100] == pytest.approx(np.median(x[75:126]))
    assert got[0] == pytest.approx(np.median(x[:26]))
    assert got[-1] == pytest.approx(np.median(x[-26:]))


def test_trades_outside_quotes_far_trade_flagged_before_first_quote_kept() -> None:
    is_trade = np.array([True, False, True, True])
    price = np.array([50.0, np.nan, 100.01, 100.10])
    bid = np.array([np.nan, 100.0, np.nan, np.nan])
    ask = np.array([np.nan, 100.02, np.nan, np.nan])
    ts = np.array([0, 1, 2, 3]) * NS
    idx, fresh = c.prevailing_quotes(~is_trade, ts, 10 * NS)
    flags = c.trades_outside_quotes(is_trade, idx, fresh, price, bid, ask)
    assert flags.tolist() == [False, False, False, True]


def test_prevailing_quotes_stale_quote_not_fresh() -> None:
    ts = np.array([0, 5 * NS, 6 * NS])
    is_quote = np.array([True, False, False])
    idx, fresh = c.prevailing_quotes(is_quote, ts, 5 * NS)
    assert idx.tolist() == [0, 0, 0]
    assert fresh.tolist() == [True, True, False]


def test_trades_outside_quotes_bps_floor_widens_band() -> None:
    is_trade = np.array([False, True])
    price, bid, ask = (
        np.array([np.nan, 39_010.0]),
        np.array([39_000.0, np.nan]),
        np.array([39_000.01, np.nan]),
    )
    idx, fresh = c.prevailing_quotes(~is_trade, np.array([0, 1]), NS)
    assert c.trades_outside_quotes(is_trade, idx, fresh, price, bid, ask).tolist() == [False, True]
    assert not c.trades_outside_quotes(is_trade, idx, fresh, price, bid, ask, 5.0).any()


def test_rolling_outliers_short_series_no_error() -> None:
    x = np.r_[np.full(12, 100.0), 130.0, np.full(7, 100.0)]
    assert np.flatnonzero(c.rolling_outliers(x, 50, 10.0, 10)).tolist() == [12]


def test_clean_ticks_each_bad_row_gets_its_reason_and_rows_reconcile() -> None:
    rows = [quote(i) for i in range(1, 40)]
    rows += [trade(40 + i / 100, price=100.0 + 0.02 * (i % 2)) for i in range(20)]
    rows += [
        trade(41, sequence=7),
        trade(41, sequence=7),  # duplicate: the same sequence number twice is a re-send
        trade(42, price=0.0),  # nonpositive_price
        trade(43, size=-1.0),  # nonpositive_size
        quote(44, 100.05, 100.01),  # crossed
        quote(45, 100.03, 100.03),  # locked
        quote(46, 99.0, 101.5),  # wide spread (2.5 vs median 0.02)
        quote(46.5),
        trade(47, price=100.05),  # outside [bid - spread, ask + spread]
        quote(47.5, 100.0, 130.0),  # wide spread
        quote(47.7, 130.0, 130.02),  # mid-quote outlier
        trade(48, conditions="Z"),  # invalid condition
        trade(5),  # time going backwards
        {**trade(49), "ts_event": OPEN - 60 * NS},  # before the open: spike + outside; first wins
        quote(50, bid=None),  # missing price
    ]
    rows += [trade(60 + i, price=100.0 + 0.02 * (i % 2)) for i in range(30)]
    table = ticks(rows)
    result = c.clean_ticks(
        table, WINDOWS, c.CleaningConfig(valid_conditions={"test": frozenset({"@"})})
    )
    counts = {k: v for k, v in result.reason_counts.items() if v}
    assert counts == {
        "duplicate": 1,
        "nonpositive_price": 1,
        "nonpositive_size": 1,
        "crossed_quote": 1,
        "locked_quote": 1,
        "wide_spread": 2,
        "trade_outside_quotes": 1,
        "price_outlier": 1,
        "invalid_condition": 1,
        "non_monotonic_time": 2,
        "missing_price": 1,
    }
    assert result.raw_rows == table.num_rows
    assert result.quarantine.column("reason").null_count == 0
    clean_ts = result.clean.column("ts_event").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(clean_ts) >= 0)


def test_clean_ticks_synthetic_injected_bad_ticks_found_with_their_reason() -> None:
    from quant_assets.lib.ticks.synthetic import REASON_CODES, SyntheticConfig, generate_ticks

    rates = dict.fromkeys(REASON_CODES, 5e-4)
    start, end = int(WINDOWS[0, 0]), int(WINDOWS[0, 1])
    generated = generate_ticks("SYNA", start, end, SyntheticConfig(seed=3, bad_tick_rates=rates))
    codes = c.classify_ticks(generated.table, WINDOWS, calendar="XNYS")
    labels = np.array(["clean"] + [r.value for r in c.REASONS])[codes]
    injected = np.array(generated.reasons.fill_null("clean").to_pylist())
    # BN-H judge a trade by its prevailing quote (T4): an injected trade-price outlier with a
    # fresh quote is caught as trade_outside_quotes.
    labels[(injected == "price_outlier") & (labels == "trade_outside_quotes")] = "price_outlier"
    for reason in REASON_CODES:
        rows = injected == reason
        recall = float(np.mean(labels[rows] == reason))
        assert recall >= 0.9, f"{reason}: only {recall:.0%} of injected rows got that reason"
    false_alarms = float(np.mean(labels[injected == "clean"] != "clean"))
    assert false_alarms < 0.002  # the 10-MAD rule flags a few genuine jumps


def test_floats_sliced_nullable_column_gives_nan_for_nulls() -> None:
    table = pa.table({"x": pa.array([1.0, None, 3.0, None, 5.0] * 3)}).slice(1, 9)
    got = c._floats(table, "x")
    expected = np.array([np.nan, 3.0, np.nan, 5.0, 1.0, np.nan, 3.0, np.nan, 5.0])
    np.testing.assert_array_equal(got, expected)


def _counts(result: c.CleaningResult) -> dict[str, int]:
    return {k: v for k, v in result.reason_counts.items() if v}


def test_identical_prints_without_trade_ids_kept_and_counted_as_possible_duplicates() -> None:
    rows = [trade(1 + i) for i in range(20)] + [trade(30, exchange="N"), trade(30, exchange="N")]
    result = c.clean_ticks(ticks(rows), WINDOWS)
    assert _counts(result) == {}
    assert result.possible_duplicates == 1
    assert result.clean.num_rows == 22


def test_identical_rows_with_same_trade_id_are_duplicates() -> None:
    rows = [trade(1 + i) for i in range(20)] + [trade(30, trade_id="x9"), trade(30, trade_id="x9")]
    result = c.clean_ticks(ticks(rows), WINDOWS)
    assert _counts(result) == {"duplicate": 1}
    assert result.possible_duplicates == 0


def test_duplicate_policy_drop_configured_per_source() -> None:
    rows = [trade(1 + i) for i in range(20)] + [trade(30), trade(30)]
    result = c.clean_ticks(
        ticks(rows), WINDOWS, c.CleaningConfig(duplicate_policy={"test": "drop"})
    )
    assert _counts(result) == {"duplicate": 1}


def test_one_tick_bid_ask_bounces_never_outliers_without_quotes() -> None:
    rng = np.random.default_rng(0)
    prices = np.where(rng.random(2_000) < 0.03, 13.74, 13.75)  # mostly flat, rare bounces
    rows = [trade(1 + i / 100, price=float(p)) for i, p in enumerate(prices)]
    table = ticks(rows)
    assert _counts(c.clean_ticks(table, WINDOWS)) == {}
    untouched = c.clean_ticks(table, WINDOWS, c.CleaningConfig(outlier_min_ticks=0.0))
    assert _counts(untouched).get("price_outlier", 0) > 0  # the floor is what saves them


def test_tick_floor_still_catches_real_outliers() -> None:
    rows = [trade(1 + i / 10, price=13.75 - 0.01 * (i % 2)) for i in range(200)]
    rows[100] = trade(11, price=14.75)
    result = c.clean_ticks(ticks(rows), WINDOWS)
    assert _counts(result) == {"price_outlier": 1}
    assert result.tick_size == pytest.approx(0.01)


def test_configured_tick_size_wins_over_inferred() -> None:
    rows = [trade(1 + i / 10, price=13.75 - 0.01 * (i % 2)) for i in range(50)]
    cfg = c.CleaningConfig(tick_sizes={"SPY": 0.05})
    assert c.clean_ticks(ticks(rows), WINDOWS, cfg).tick_size == 0.05


def test_non_finite_and_absurd_prices_and_sizes_quarantined() -> None:
    rows = [trade(1 + i) for i in range(20)]
    rows += [
        trade(30, price=float("inf")),
        trade(31, price=1e308),
        trade(32, size=float("nan")),
        trade(33, size=1e300),
        trade(34, size=float("inf")),
        quote(35, bid=float("nan")),
    ]
    result = c.clean_ticks(ticks(rows), WINDOWS)
    assert _counts(result) == {"non_finite_value": 4, "absurd_value": 2}


def test_one_sided_quote_with_zero_side_is_missing_price() -> None:
    rows = [quote(1 + i) for i in range(20)] + [quote(30, bid=0.0), quote(31, ask=0.0)]
    assert _counts(c.clean_ticks(ticks(rows), WINDOWS)) == {"missing_price": 2}


def test_vendor_flag_becomes_its_quarantine_reason() -> None:
    rows = [trade(1 + i) for i in range(20)] + [trade(30, flag="vendor_cancelled")]
    result = c.clean_ticks(ticks(rows), WINDOWS)
    assert _counts(result) == {"vendor_cancelled": 1}
    assert result.quarantine.column("reason").to_pylist() == ["vendor_cancelled"]


def test_mapping_sale_condition_table_judges_its_source() -> None:
    rows = [trade(1 + i, source="wrds_taq_trades", conditions="@,I") for i in range(20)]
    rows.append(trade(30, source="wrds_taq_trades", conditions="@,Z"))
    assert _counts(c.clean_ticks(ticks(rows), WINDOWS)) == {"invalid_condition": 1}


def test_trades_judged_by_quotes_on_the_same_clock() -> None:
    def recv(t: float) -> int:
        return OPEN + int(t * NS)

    # quotes recorded with our receive time only; exchange-stamped trades, received 50 ms later
    rows = [
        {**quote(9.9), "clock": "receive", "ts_recv": recv(9.9)},
        {**trade(10.0, price=101.01), "ts_recv": recv(10.05)},
        {**quote(10.02, 101.0, 101.02), "clock": "receive", "ts_recv": recv(10.02)},
    ]
    assert _counts(c.clean_ticks(ticks(rows), WINDOWS)) == {}
    mixed = [{k: v for k, v in r.items() if k != "clock"} for r in rows]
    assert _counts(c.clean_ticks(ticks(mixed), WINDOWS)) == {"trade_outside_quotes": 1}


def test_receive_clock_mapping_records_clock_and_receive_time(tmp_path: Path) -> None:
    from quant_assets.lib.ticks.adapters.mapped_reader import read_mapped
    from quant_assets.lib.ticks.adapters.mapping import VendorMapping

    m = VendorMapping.model_validate(
        {
            "name": "rec",
            "format": "csv",
            "record_type": "quote",
            "symbol": "BTCUSDT",
            "columns": {"ts_event": "t", "bid_price": "b", "ask_price": "a"},
            "time": {"unit": "ms", "clock": "receive"},
        }
    )
    path = tmp_path / "q.csv"
    path.write_text("t,b,a\n1700000000000,1,2\n")
    table = read_mapped(path, m)
    assert table.column("clock").to_pylist() == ["receive"]
    assert table.column("ts_recv").to_pylist() == table.column("ts_event").to_pylist()
