"""build_time_bars: OHLCV/VWAP from trades, spread from quotes, documented gap rules."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from quant_assets.lib.ticks.schema import TIMESTAMP, conform
from quant_assets.lib.trading.bars import Bars, build_time_bars, random_walk_bars

T0 = 1_704_205_800_000_000_000  # 14:30:00 UTC, minute aligned
MIN = 60_000_000_000


def _ticks(
    rows: list[tuple[int, str, float | None, float | None, float | None, float | None]],
) -> pa.Table:
    ts, rtype, price, size, bid, ask = zip(*rows, strict=True)
    n = len(rows)
    return conform(
        pa.table(
            {
                "ts_event": pa.array(list(ts), TIMESTAMP),
                "symbol": ["AAA"] * n,
                "record_type": list(rtype),
                "price": list(price),
                "size": list(size),
                "bid_price": list(bid),
                "ask_price": list(ask),
                "source": ["test"] * n,
            }
        )
    )


TICKS = [
    (T0 + 1, "quote", None, None, 9.9, 10.1),
    (T0 + 2, "trade", 10.0, 100.0, None, None),
    (T0 + MIN // 2, "trade", 11.0, 300.0, None, None),
    (T0 + MIN // 2 + 1, "trade", 9.5, 100.0, None, None),
    (T0 + MIN + 5, "quote", None, None, 10.4, 10.6),  # bar 2: quotes only
    (T0 + 3 * MIN + 1, "trade", 12.0, 50.0, None, None),  # bar 4: trades only, bar 3 empty
]


def test_bars_trades_give_ohlcv_vwap_and_end_stamped_ts() -> None:
    b = build_time_bars(_ticks(TICKS), "1min")
    assert b.ts.tolist() == [T0 + MIN, T0 + 2 * MIN, T0 + 4 * MIN]
    assert (b.open[0], b.high[0], b.low[0], b.close[0]) == (10.0, 11.0, 9.5, 9.5)
    assert b.volume[0] == 500.0 and b.n_trades[0] == 3
    assert b.vwap[0] == pytest.approx((1000 + 3300 + 950) / 500)
    assert b.bar_seconds == 60.0 and b.symbol == "AAA"


def test_bars_quote_only_bar_uses_last_mid_and_zero_volume() -> None:
    b = build_time_bars(_ticks(TICKS), "1min")
    assert b.close[1] == pytest.approx(10.5) and b.volume[1] == 0.0 and b.n_trades[1] == 0
    assert b.spread[1] == pytest.approx(0.2)


def test_bars_without_quotes_carry_spread_forward() -> None:
    b = build_time_bars(_ticks(TICKS), "1min")
    assert b.spread[0] == pytest.approx(0.2) and b.spread[2] == pytest.approx(0.2)


def test_bars_before_any_quote_use_fallback_bps() -> None:
    b = build_time_bars(_ticks(TICKS[1:2]), "1min", fallback_spread_bps=10.0)
    assert b.spread[0] == pytest.approx(10.0 * 1e-4 * 10.0)
    assert b.quoted is not None and not b.quoted[0]  # a placeholder, not a measured spread
    assert b.mid is not None and b.mid[0] == b.close[0]  # no quote known: the close


def test_bars_mid_is_the_last_quote_mid_carried_forward_not_the_trade_price() -> None:
    b = build_time_bars(_ticks(TICKS), "1min")
    assert b.mid is not None and b.quoted is not None
    assert b.close[0] == 9.5 and b.mid[0] == pytest.approx(10.0)  # quote 9.9/10.1
    assert b.mid[1] == pytest.approx(10.5)  # quote 10.4/10.6 in bar 2
    assert b.close[2] == 12.0 and b.mid[2] == pytest.approx(10.5)  # carried: no new quote
    assert b.quoted.all()


def test_bars_fill_gaps_emits_flat_bar_with_previous_close() -> None:
    b = build_time_bars(_ticks(TICKS), "1min", fill_gaps=True)
    assert len(b) == 4
    assert b.close[2] == pytest.approx(10.5) and b.volume[2] == 0.0


def test_bars_future_ticks_do_not_change_earlier_bars() -> None:
    early = build_time_bars(_ticks(TICKS[:4]), "1min")
    full = build_time_bars(_ticks(TICKS), "1min")
    assert full.close[0] == early.close[0] and full.spread[0] == early.spread[0]


def test_bars_several_symbols_without_symbol_raise() -> None:
    t = _ticks(TICKS)
    t2 = t.set_column(t.schema.get_field_index("symbol"), "symbol", pa.array(["AAA", "BBB"] * 3))
    with pytest.raises(ValueError, match="several symbols"):
        build_time_bars(t2, "1min")
    assert len(build_time_bars(t2, "1min", symbol="AAA")) >= 1


def test_bars_unsorted_ts_rejected_by_dataclass() -> None:
    b = random_walk_bars(5)
    with pytest.raises(ValueError, match="strictly increasing"):
        Bars(
            ts=b.ts[::-1].copy(),
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            volume=b.volume,
            vwap=b.vwap,
            spread=b.spread,
            n_trades=b.n_trades,
        )


def test_random_walk_bars_seeded_is_reproducible() -> None:
    assert np.array_equal(random_walk_bars(50, seed=3).close, random_walk_bars(50, seed=3).close)
