"""The bounded-memory build of one partition gives the in-memory build's objects and entry:
same clean rows in the same order, same quarantine rows and reasons, same versions and counts."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import clean_rules
from quant_assets.lib.ticks.clean_config import CleaningConfig
from quant_assets.lib.ticks.lake import partition_prefix
from quant_assets.lib.ticks.landing import STAGED
from quant_assets.lib.ticks.manifest import ManifestEntry
from quant_assets.lib.ticks.pipeline import build_symbol
from quant_assets.lib.ticks.schema import RecordType
from quant_assets.lib.ticks.sessions import session_windows
from quant_assets.lib.ticks.spill_columns import SpillColumn
from quant_assets.lib.ticks.streaming_build import _grid_tick
from quant_assets.lib.ticks.synthetic import REASON_CODES, SyntheticConfig, generate_ticks
from quant_assets.lib.ticks.vendor_rules import infer_tick_size

SESSION = date(2024, 1, 2)
SYMBOL = "AAPL"
WINDOW = 1_000


@pytest.fixture(autouse=True)
def small_rolling_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rolling statistics in blocks of 300 points, so a small day spans several blocks."""
    monkeypatch.setattr(clean_rules, "ROLLING_BLOCK", 300)


def _day(n: int, seed: int, rate: float = 0.01, **kw: float) -> pa.Table:
    windows = session_windows("XNYS", SESSION)
    config = SyntheticConfig(
        seed=seed,
        base_price=13.75,
        bad_tick_rates=dict.fromkeys(REASON_CODES, rate),
        **kw,  # type: ignore[arg-type]
    )
    return generate_ticks(SYMBOL, int(windows[0, 0]), int(windows[0, 1]), config, n).table


def _set(table: pa.Table, name: str, rows: np.ndarray, value: object) -> pa.Table:
    col = table.column(name).to_numpy(zero_copy_only=False).astype(object)
    col[rows] = value
    return table.set_column(
        table.schema.get_field_index(name), name, pa.array(col, table.schema.field(name).type)
    )


def _twins_without_ids(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """Each of ``rows`` followed by an identical copy, without trade id or sequence."""
    table = _set(table, "sequence", rows, None)
    order = np.sort(np.concatenate([np.arange(table.num_rows), rows]))
    return table.take(order)


def _stage(store: ObjectStore, pieces: list[pa.Table]) -> None:
    for i, piece in enumerate(pieces):
        store.write_parquet(f"{partition_prefix(STAGED, SESSION, SYMBOL)}/f{i}.parquet", piece)


def _both(
    tmp_path: Path, pieces: list[pa.Table], max_quote_age_ms: float = float("inf")
) -> tuple[ManifestEntry, ManifestEntry, list]:
    """Build the partition in memory and in windows of WINDOW rows, in two lakes."""
    entries, stores = [], []
    for name, budget in (("memory", 10_000_000), ("streamed", WINDOW)):
        store = ObjectStore.local(tmp_path / name)
        _stage(store, pieces)
        cfg = replace(
            CleaningConfig(), max_rows_in_memory=budget, max_quote_age_ms=max_quote_age_ms
        )
        entries.append(build_symbol(store, SESSION, SYMBOL, cfg))
        stores.append(store)
    memory, streamed = entries
    for dataset in ("raw_key", "clean_key", "quarantine_key"):
        left = stores[0].read_parquet(getattr(memory, dataset))
        right = stores[1].read_parquet(getattr(streamed, dataset))
        assert left.equals(right), dataset
    return memory, streamed, stores


def _same_entry(memory: ManifestEntry, streamed: ManifestEntry) -> None:
    a, b = asdict(memory), asdict(streamed)
    a.pop("built_at"), b.pop("built_at")
    assert a == b


def test_build_symbol_trades_and_quotes_in_windows_same_objects_and_entry(
    tmp_path: Path,
) -> None:
    day = _day(6_000, 1)
    is_trade = pc.equal(day.column("record_type"), RecordType.TRADE.value)
    trades, quotes = day.filter(is_trade), day.filter(pc.invert(is_trade))
    rng = np.random.default_rng(0)
    trades = _twins_without_ids(trades, rng.choice(trades.num_rows, 40, replace=False))
    trades = _set(trades, "price", rng.choice(trades.num_rows, 5, replace=False), np.inf)
    trades = _set(trades, "size", rng.choice(trades.num_rows, 5, replace=False), 1e300)
    quotes = _set(quotes, "bid_price", rng.choice(quotes.num_rows, 30, replace=False), 0.0)
    jumped = rng.choice(quotes.num_rows, 10, replace=False)  # mids off by 5%: quote outliers
    for side in ("bid_price", "ask_price"):
        values = quotes.column(side).to_numpy(zero_copy_only=False)
        quotes = _set(quotes, side, jumped, values[jumped] * 1.05)
    # two staged pieces (a trades file and a quotes file): merged by time in windows
    memory, streamed, _ = _both(tmp_path, [trades, quotes])
    _same_entry(memory, streamed)
    reasons = memory.reasons
    expected = {
        "duplicate", "price_outlier", "trade_outside_quotes", "outside_session", "crossed_quote",
        "wide_spread", "missing_price", "non_monotonic_time", "non_finite_value", "absurd_value",
    }  # fmt: skip
    assert expected <= {r for r, n in reasons.items() if n > 0}
    assert memory.possible_duplicates > 0
    assert memory.raw_rows > 3 * WINDOW


def test_build_symbol_trades_only_one_tick_bounces_in_windows_same_objects(
    tmp_path: Path,
) -> None:
    day = _day(5_000, 2, rate=0.003)
    trades = day.filter(pc.equal(day.column("record_type"), RecordType.TRADE.value))
    n = trades.num_rows
    bounce = np.where(np.arange(n) % 2 == 0, 13.75, 13.76)  # bid/ask bounce, no quotes
    bounce[n // 2] = 14.50  # one real outlier
    trades = trades.set_column(
        trades.schema.get_field_index("price"), "price", pa.array(bounce, pa.float64())
    )
    memory, streamed, _ = _both(tmp_path, [trades])
    _same_entry(memory, streamed)
    assert memory.reasons.get("price_outlier", 0) >= 1
    assert memory.clean_rows > 0.9 * memory.raw_rows  # the bounces are kept


def test_build_symbol_equal_times_across_window_edge_same_duplicates(tmp_path: Path) -> None:
    day = _day(3_000, 3, rate=0.0)
    ts = day.column("ts_event").cast(pa.int64()).to_numpy().copy()
    edge = slice(WINDOW - 15, WINDOW + 15)  # 30 rows at one time across the first edge
    ts[edge] = ts[WINDOW - 15]
    ts[WINDOW + 15 :] = np.maximum(ts[WINDOW + 15 :], ts[WINDOW - 15])
    day = day.set_column(0, "ts_event", pa.array(ts).cast(day.schema.field(0).type))
    # rows just after the edge repeat rows just before it: with ids (errors), without (kept)
    day = day.take(np.r_[0 : WINDOW + 5, WINDOW - 12, WINDOW - 11, WINDOW + 5 : day.num_rows])
    no_id = np.array([WINDOW - 8, WINDOW - 1, WINDOW + 9, WINDOW + 13])  # twin of 999 at 1000
    day = _twins_without_ids(day, no_id)
    memory, streamed, _ = _both(tmp_path, [day])
    _same_entry(memory, streamed)
    assert memory.reasons.get("duplicate", 0) == 2
    assert memory.possible_duplicates == no_id.size


def test_grid_tick_three_spilled_columns_same_sample_as_infer_tick_size(tmp_path: Path) -> None:
    n = 250_000  # > 100,000: infer_tick_size takes every 2nd price, from the first
    rng = np.random.default_rng(4)
    prices = np.round(rng.integers(2_000, 4_000, n) * 0.05, 2)  # even positions: 0.05 grid
    prices[1::2] = np.round(rng.integers(10_000, 20_000, n // 2) * 0.01 + 0.01, 2)
    columns = []
    for i, part in enumerate(np.split(prices, [100_001, 170_001])):  # odd offsets: phase
        columns.append(SpillColumn(tmp_path / f"c{i}", np.float64))
        columns[-1].append(part)
    assert infer_tick_size(prices) == 0.05
    assert _grid_tick(columns) == infer_tick_size(prices)


def _floats(table: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    column = pa.array(values, pa.float64(), from_pandas=True)  # NaN: null
    return table.set_column(table.schema.get_field_index(name), name, column)


def _websocket_day(delay: np.ndarray, stale_every: int) -> pa.Table:
    """Quotes stamped with our receive time (``ts_recv`` = exchange time + ``delay``), trades
    with the exchange's, as an exchange websocket dump. The quotes' mids walk in 10-cent steps
    with a 2-cent spread, so a trade is inside only the quote it was priced from: each trade at
    the mid of the quote prevailing in receive order, every ``stale_every``-th one at the mid
    of the quote before it in row order instead (outside its quote when the two differ)."""
    day = _day(delay.size, 5, rate=0.0)
    n = day.num_rows
    quote = pc.equal(day.column("record_type"), RecordType.QUOTE.value).to_numpy()
    rng = np.random.default_rng(5)
    mid = np.full(n, np.nan)
    mid[quote] = np.round(30 + 0.1 * np.cumsum(rng.choice([-1, 1], int(quote.sum()))), 2)
    ts = day.column("ts_event").cast(pa.int64()).to_numpy()
    recv = np.where(quote, ts + delay, day.column("ts_recv").cast(pa.int64()).to_numpy())
    # equal receive times across window edges: a trade, then a quote 50 cents away that must
    # not prevail for it (ties keep row order)
    for edge in (WINDOW, 2 * WINDOW):
        a = edge - 20 + int(np.argmax(~quote[edge - 20 : edge]))
        b = edge + int(np.argmax(quote[edge:]))
        recv[b], mid[b] = recv[a], mid[b] + 0.5
    order = np.argsort(recv, kind="stable")
    by_recv = np.empty(n, dtype=np.int64)
    last = np.maximum.accumulate(np.where(quote[order], np.arange(n), -1))  # sorted position
    by_recv[order] = np.where(last >= 0, order[np.clip(last, 0, None)], -1)
    by_row = np.maximum.accumulate(np.where(quote, np.arange(n), -1))
    source = np.where(np.arange(n) % stale_every == 0, by_row, by_recv)
    price = np.where(source >= 0, mid[np.clip(source, 0, None)], 30.0)
    day = _floats(day, "price", np.where(quote, np.nan, price))
    day = _floats(day, "bid_price", mid - 0.01)
    day = _floats(day, "ask_price", mid + 0.01)
    field = day.schema.field("ts_recv")
    day = day.set_column(
        day.schema.get_field_index("ts_recv"), field, pa.array(recv).cast(field.type)
    )
    clock = pc.if_else(pa.array(quote), pa.scalar("receive"), pa.scalar(None, pa.string()))
    return day.set_column(day.schema.get_field_index("clock"), "clock", clock)


def test_build_symbol_quotes_on_receive_clock_in_windows_same_objects(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    delay = rng.integers(0, 40_000_000_000, 4_000)  # 0-40 s: rows ~6 s apart reorder
    edge = np.arange(WINDOW - 12, WINDOW)
    delay[edge] += 120_000_000_000  # quotes before the first edge received after rows past it
    day = _websocket_day(delay, stale_every=3)
    recv = day.column("ts_recv").cast(pa.int64()).to_numpy()
    assert recv[edge].max() > recv[WINDOW + 10]  # receive order != row order across the edge
    # a 20 s quote age: some trades have no fresh quote and go to the rolling rule
    memory, streamed, _ = _both(tmp_path, [day], max_quote_age_ms=20_000.0)
    _same_entry(memory, streamed)
    outside = memory.reasons["trade_outside_quotes"]
    assert outside > 0
    exchange = _both(tmp_path / "exchange", [day.drop_columns(["clock"])], max_quote_age_ms=2e4)
    assert exchange[0].reasons["trade_outside_quotes"] != outside  # the clock decides


def test_build_symbol_bounded_on_each_store_same_objects_as_in_memory(
    store: ObjectStore, tmp_path: Path
) -> None:
    """Local files and S3 (pieces downloaded, objects streamed to temporary keys, then moved)."""
    day = _day(3_000, 6)
    local = ObjectStore.local(tmp_path / "memory")
    _stage(local, [day])
    _stage(store, [day])
    memory = build_symbol(local, SESSION, SYMBOL)
    streamed = build_symbol(
        store, SESSION, SYMBOL, replace(CleaningConfig(), max_rows_in_memory=WINDOW)
    )
    _same_entry(memory, streamed)
    for dataset in ("raw_key", "clean_key", "quarantine_key"):
        assert local.read_parquet(getattr(memory, dataset)).equals(
            store.read_parquet(getattr(streamed, dataset))
        )
    assert not [k for k in store.list("ticks_clean") if "/.tmp-" in k]
