"""Tardis CSV adapter on the real Tardis samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnsupportedFileError
from quant_assets.lib.ticks.adapters.tardis import read_tardis

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data" / "ticks" / "nautilus_trader"


def _real(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"shared tick sample {path} not present (read-only data outside the repo)")
    return path


def test_read_tardis_bitmex_trades_10_rows_us_times_and_sell_side() -> None:
    table = read_tardis(_real("bitmex_trades_XBTUSD.csv"))
    assert table.num_rows == 10
    row = table.to_pylist()[0]
    assert row["ts_event"].isoformat() == "2020-03-01T00:00:03.145000+00:00"
    assert row["ts_recv"].isoformat() == "2020-03-01T00:00:03.307160+00:00"
    assert (row["symbol"], row["exchange"], row["side"], row["price"], row["size"]) == (
        "XBTUSD",
        "bitmex",
        "S",
        8531.5,
        2152.0,
    )
    assert row["source"] == "tardis"


def test_read_tardis_huobi_quotes_10_rows_with_bid_and_ask() -> None:
    table = read_tardis(_real("huobi-dm-swap_quotes_BTC-USD.csv"))
    assert table.num_rows == 10
    row = table.to_pylist()[0]
    assert (row["record_type"], row["bid_price"], row["ask_price"]) == ("quote", 8629.2, 8629.3)
    assert (row["bid_size"], row["ask_size"]) == (806.0, 5494.0)
    lags = [(r["ts_recv"] - r["ts_event"]).total_seconds() for r in table.to_pylist()]
    assert min(lags) > 0.06 and max(lags) < 0.43  # README: 61-428 ms


def test_read_tardis_book_snapshot_uses_top_level(tmp_path: Path) -> None:
    path = tmp_path / "deribit_book_snapshot_5_BTC-PERPETUAL.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,"
        "bids[0].price,bids[0].amount,asks[1].price,asks[1].amount\n"
        "deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,6443.5,38640,6443,95190,6444,10\n"
    )
    row = read_tardis(path).to_pylist()[0]
    assert (row["bid_price"], row["ask_price"], row["ask_size"]) == (6443.0, 6443.5, 38640.0)


def test_read_tardis_unsupported_data_type_raises(tmp_path: Path) -> None:
    path = tmp_path / "deribit_derivative_ticker.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,funding_rate\nd,X,1,2,0.1\n")
    with pytest.raises(UnsupportedFileError):
        read_tardis(path)


def test_read_tardis_bad_price_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bitmex_trades.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "bitmex,XBTUSD,1583020803145000,1583020803307160,a,sell,8531.5,1\n"
        "bitmex,XBTUSD,1583020803145001,1583020803307161,b,buy,85x1,1\n"
    )
    with pytest.raises(MalformedFileError) as info:
        read_tardis(path)
    assert (info.value.line, info.value.column) == (3, "price")
