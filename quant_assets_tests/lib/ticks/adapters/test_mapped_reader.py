"""Mapping features, one vendor format quirk per test (fixtures follow the vendors' documented
layouts: LOBSTER message files, Coinbase websocket messages, WRDS TAQ trades)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapped_reader import read_mapped, read_mapped_report
from quant_assets.lib.ticks.adapters.mapping import VendorMapping, load_mapping


def _mapping(**spec: object) -> VendorMapping:
    return VendorMapping.model_validate({"name": "t", "format": "csv", **spec})


def _iso(table: pa.Table, column: str = "ts_event") -> list[str]:
    return [t.isoformat() for t in table.column(column).to_pylist()]


LOBSTER = (
    "34200.004241176,1,16113575,18,5853300,1\n"
    "34200.025551909,4,16113575,18,5853300,1\n"
    "34200.190226759,3,16120456,18,5859100,-1\n"
    "34200.201743937,5,0,100,5853000,-1\n"
)


def test_lobster_times_after_local_midnight_from_file_name_are_dst_correct(
    tmp_path: Path,
) -> None:
    winter = tmp_path / "AAPL_2012-01-10_34200000_57600000_message_1.csv"
    summer = tmp_path / "AAPL_2012-06-21_34200000_57600000_message_1.csv"
    winter.write_text(LOBSTER)
    summer.write_text(LOBSTER)
    m = load_mapping("lobster_messages")
    assert _iso(read_mapped(winter, m))[0].startswith("2012-01-10T14:30:00.025551")
    assert _iso(read_mapped(summer, m))[0].startswith("2012-06-21T13:30:00.025551")
    ns = read_mapped(summer, m).column("ts_event").cast(pa.int64())[0].as_py()
    assert ns % 1_000_000_000 == 25_551_909  # nanosecond decimals parsed exactly


def test_lobster_row_filter_keeps_executions_and_counts_skipped(tmp_path: Path) -> None:
    path = tmp_path / "AAPL_2012-06-21_34200000_57600000_message_1.csv"
    path.write_text(LOBSTER)
    read = read_mapped_report(path, load_mapping("lobster_messages"))
    assert (read.rows_read, read.skipped, read.table.num_rows) == (4, 2, 2)
    assert read.table.column("price").to_pylist() == [585.33, 585.3]
    assert read.table.column("side").to_pylist() == ["S", "B"]
    assert set(read.table.column("symbol").to_pylist()) == {"AAPL"}


def test_row_filter_error_line_counts_skipped_rows(tmp_path: Path) -> None:
    path = tmp_path / "AAPL_2012-06-21_34200000_57600000_message_1.csv"
    path.write_text(LOBSTER + "34201.5,4,1,10,oops,1\n")
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("lobster_messages"))
    assert (info.value.line, info.value.column) == (5, "f4")


def test_ms_after_new_york_midnight_with_date_column(tmp_path: Path) -> None:
    m = _mapping(
        record_type="trade",
        symbol="IBM",
        columns={"ts_event": "ms", "price": "px"},
        time={"unit": "ms", "relative_to": "date", "timezone": "America/New_York"},
        date={"column": "day", "format": "%Y-%m-%d"},
    )
    path = tmp_path / "ibm.csv"
    path.write_text("day,ms,px\n2024-03-08,34200000,1\n2024-03-11,34200000,1\n")
    # the US switched to daylight time on 2024-03-10: 09:30 is 14:30 UTC, then 13:30 UTC
    assert _iso(read_mapped(path, m)) == [
        "2024-03-08T14:30:00+00:00",
        "2024-03-11T13:30:00+00:00",
    ]


def test_timezone_with_epoch_unit_rejected_not_ignored() -> None:
    with pytest.raises(ValueError, match="cannot apply to epoch numbers"):
        _mapping(
            record_type="trade",
            symbol="X",
            columns={"ts_event": 0, "price": 1},
            time={"unit": "ms", "timezone": "America/New_York"},
        )


def test_timezone_with_offset_carrying_iso_values_rejected(tmp_path: Path) -> None:
    m = _mapping(
        record_type="trade",
        symbol="X",
        columns={"ts_event": "t", "price": "p"},
        time={"format": "iso", "timezone": "America/New_York"},
    )
    path = tmp_path / "x.csv"
    path.write_text("t,p\n2024-01-02T14:30:00+00:00,1\n")
    with pytest.raises(MalformedFileError, match="carry their own UTC offset") as info:
        read_mapped(path, m)
    assert info.value.column == "t"


def test_epoch_us_column_with_one_float_value_parsed_exactly(tmp_path: Path) -> None:
    m = _mapping(
        record_type="trade",
        symbol="X",
        columns={"ts_event": "t", "price": "p"},
        time={"unit": "us"},
    )
    path = tmp_path / "x.csv"
    path.write_text("t,p\n1583020803146001,1\n1583020803146000.0,1\n1583020803146003,1\n")
    ns = read_mapped(path, m).column("ts_event").cast(pa.int64()).to_pylist()
    assert ns == [1583020803146001000, 1583020803146000000, 1583020803146003000]


def test_missing_event_time_names_file_line_and_column(tmp_path: Path) -> None:
    m = _mapping(
        record_type="trade", symbol="X", columns={"ts_event": "t", "price": "p"}, time={"unit": "s"}
    )
    path = tmp_path / "x.csv"
    path.write_text("t,p\n1,1\n,2\n")
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, m)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), 3, "t")


def test_null_sentinel_zero_means_absent(tmp_path: Path) -> None:
    m = _mapping(
        record_type="quote",
        symbol="X",
        columns={"ts_event": "t", "bid_price": "b", "ask_price": "a"},
        time={"unit": "s"},
        nulls={"bid_price": ["0"], "ask_price": ["0"]},
    )
    path = tmp_path / "x.csv"
    path.write_text("t,b,a\n1,10.00,0\n2,0.0,10.01\n")
    table = read_mapped(path, m)
    assert table.column("bid_price").to_pylist() == [10.0, None]
    assert table.column("ask_price").to_pylist() == [None, 10.01]


def test_taq_flags_become_reasons_and_condition_chars_split(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    path.write_text(
        "DATE,TIME_M,EX,SYM_ROOT,SYM_SUFFIX,TR_SCOND,SIZE,PRICE,TR_CORR,TR_SEQNUM,TR_SOURCE,TR_RF\n"
        "20240102,09:30:00.001234,N,IBM,,@ FI,100,160.10,00,1001,C,\n"
        "20240102,09:30:00.5,N,IBM,,@,100,160.11,08,1002,C,\n"
    )
    table = read_mapped(path, load_mapping("wrds_taq_trades"))
    assert table.column("conditions").to_pylist() == ["@,F,I", "@"]
    assert table.column("flag").to_pylist() == [None, "vendor_cancelled"]
    assert _iso(table)[0] == "2024-01-02T14:30:00.001234+00:00"


COINBASE = [
    '1699999999000000000 {"type":"subscriptions","channels":[{"name":"matches"}]}',
    '1700000000123456789 {"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac92",'
    '"taker_order_id":"132f","time":"2023-11-14T22:13:20.028459Z","product_id":"BTC-USD",'
    '"size":"5.23512","price":"400.23","side":"sell"}',
    '1700000000223456789 {"type":"ticker","sequence":51,"product_id":"BTC-USD","price":"400.23",'
    '"best_bid":"400.22","best_bid_size":"1.5","best_ask":"400.24","best_ask_size":"0.3",'
    '"side":"buy","time":"2023-11-14T22:13:20.1Z","trade_id":10,"last_size":"5.23512"}',
    '1700000000323456789 {"type":"heartbeat","sequence":52,"product_id":"BTC-USD"}',
]


def test_websocket_json_lines_with_receive_time_prefix_mixed_messages(tmp_path: Path) -> None:
    path = tmp_path / "coinbase.jsonl"
    path.write_text("\n".join(COINBASE) + "\n")
    read = read_mapped_report(path, load_mapping("coinbase_ws"))
    t = read.table
    assert (read.rows_read, read.skipped) == (4, 2)
    assert t.column("record_type").to_pylist() == ["trade", "quote"]
    assert t.column("side").to_pylist() == ["B", None]  # maker sold: buyer aggressed
    assert t.column("price").to_pylist() == [400.23, None]  # a ticker's last price is no trade
    assert t.column("bid_price").to_pylist() == [None, 400.22]
    assert t.column("ts_recv").cast(pa.int64()).to_pylist()[0] == 1700000000123456789
    assert t.column("sequence").to_pylist() == [50, 51]


def test_json_lines_bad_object_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "coinbase.jsonl"
    path.write_text(COINBASE[1] + '\n\n1700000001000000000 {"type": "match",\n')
    with pytest.raises(MalformedFileError, match="invalid JSON") as info:
        read_mapped(path, load_mapping("coinbase_ws"))
    assert info.value.line == 3


def test_user_mapping_from_quant_mappings_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_vendor.toml").write_text(
        'format = "csv"\nrecord_type = "trade"\nsymbol = "ABC"\n'
        '[columns]\nts_event = "t"\nprice = "p"\n[time]\nunit = "ms"\n'
    )
    monkeypatch.setenv("QUANT_MAPPINGS_DIR", str(tmp_path))
    data = tmp_path / "f.csv"
    data.write_text("t,p\n1700000000000,5\n")
    table = read_mapped(data, load_mapping("my_vendor"))
    assert table.column("source").to_pylist() == ["my_vendor"]


def test_quote_book_consolidates_one_sided_updates_per_venue(tmp_path: Path) -> None:
    m = _mapping(
        record_type="quote",
        symbol="IBM",
        columns={"ts_event": "t", "exchange": "ex", "bid_price": "b", "ask_price": "a"},
        time={"format": "iso"},
        nulls={"bid_price": ["0"], "ask_price": ["0"]},
        quote_book="venue",
    )
    path = tmp_path / "q.csv"
    path.write_text(
        "t,ex,b,a\n"
        "2024-01-02T14:31:00Z,N,13.74,0\n"  # bid only: one-sided until the ask arrives
        "2024-01-02T14:31:01Z,N,0,13.75\n"
        "2024-01-02T14:31:02Z,P,13.73,0\n"  # another venue: its own book
        "2024-01-02T14:31:03Z,N,13.75,0\n"
        "2024-01-03T14:31:00Z,N,0,13.80\n"  # next session: no carried bid
    )
    t = read_mapped(path, m)
    assert t.column("bid_price").to_pylist() == [13.74, 13.74, 13.73, 13.75, None]
    assert t.column("ask_price").to_pylist() == [None, 13.75, None, 13.75, 13.80]


def test_quote_book_consolidated_carries_across_venues(tmp_path: Path) -> None:
    m = _mapping(
        record_type="quote",
        symbol="IBM",
        columns={"ts_event": "t", "exchange": "ex", "bid_price": "b", "ask_price": "a"},
        time={"format": "iso"},
        nulls={"bid_price": ["0"], "ask_price": ["0"]},
        quote_book="consolidated",
    )
    path = tmp_path / "q.csv"
    path.write_text("t,ex,b,a\n2024-01-02T14:31:00Z,N,13.74,0\n2024-01-02T14:31:01Z,P,0,13.75\n")
    assert read_mapped(path, m).column("bid_price").to_pylist() == [13.74, 13.74]


def _taq_times(*times: str) -> str:
    return (
        "DATE,TIME_M,EX,SYM_ROOT,SYM_SUFFIX,TR_SCOND,SIZE,PRICE,TR_CORR,TR_SEQNUM,TR_SOURCE,TR_RF\n"
        + "".join(f"20240702,{t},N,IBM,,@,100,160.10,00,{i},C,\n" for i, t in enumerate(times))
    )


def test_taq_time_of_day_one_to_nine_fraction_digits_exact(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    path.write_text(_taq_times("09:30:00", "09:30:00.5", "09:30:00.123456", "15:59:59.123456789"))
    ns = read_mapped(path, load_mapping("wrds_taq_trades")).column("ts_event").cast(pa.int64())
    midnight = 1_719_892_800_000_000_000  # 2024-07-02 00:00 New York (EDT) in UTC ns
    assert [v - midnight for v in ns.to_pylist()] == [
        34_200_000_000_000,
        34_200_500_000_000,
        34_200_123_456_000,
        57_599_123_456_789,
    ]


def test_taq_time_of_day_out_of_range_names_line(tmp_path: Path) -> None:
    path = tmp_path / "taq.csv"
    path.write_text(_taq_times("09:30:00.1", "24:10:00.2"))
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("wrds_taq_trades"))
    assert (info.value.line, info.value.column) == (3, "TIME_M")


# NYSE Daily TAQ trades (Daily TAQ Client Specification): pipe-delimited, Time as
# HHMMSSXXXXXXXXX (nanoseconds after the second), New York time on the file's date.
DAILY_TAQ_HEADER = (
    "Time|Exchange|Symbol|Sale Condition|Trade Volume|Trade Price|Trade Stop Stock Indicator|"
    "Trade Correction Indicator|Sequence Number|Trade Id|Source of Trade|"
    "Trade Reporting Facility|Participant Timestamp|Trade Reporting Facility TRF Timestamp|"
    "Trade Through Exempt Indicator\n"
)


def _daily_taq(*rows: tuple[str, str, str]) -> str:
    return DAILY_TAQ_HEADER + "".join(
        f"{t}|N|IBM|{cond}|100|160.10||{corr}|{i}|{i}|C||{t}||0\n"
        for i, (t, cond, corr) in enumerate(rows, start=1)
    )


def test_daily_taq_nanosecond_time_of_day_exact_in_new_york(tmp_path: Path) -> None:
    winter = tmp_path / "EQY_US_ALL_TRADE_20240102"
    summer = tmp_path / "EQY_US_ALL_TRADE_20240702"
    text = _daily_taq(("093000000000001", "@", "00"), ("155959123456789", "@ FI", "08"))
    winter.write_text(text)
    summer.write_text(text)
    m = load_mapping("nyse_taq_trades")
    assert _iso(read_mapped(winter, m))[0].startswith("2024-01-02T14:30:00")
    table = read_mapped(summer, m)
    ns = table.column("ts_event").cast(pa.int64()).to_pylist()
    midnight = 1_719_892_800_000_000_000  # 2024-07-02 00:00 New York (EDT) in UTC ns
    assert [v - midnight for v in ns] == [34_200_000_000_001, 57_599_123_456_789]
    assert table.column("conditions").to_pylist() == ["@", "@,F,I"]
    assert table.column("flag").to_pylist() == [None, "vendor_cancelled"]
    assert table.column("trade_id").to_pylist() == ["1", "2"]


def test_daily_taq_time_without_leading_zero_padded(tmp_path: Path) -> None:
    path = tmp_path / "EQY_US_ALL_TRADE_20240702"
    path.write_text(_daily_taq(("93000000000001", "@", "00")))
    ns = read_mapped(path, load_mapping("nyse_taq_trades")).column("ts_event").cast(pa.int64())
    assert ns[0].as_py() - 1_719_892_800_000_000_000 == 34_200_000_000_001


def test_daily_taq_bad_time_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "EQY_US_ALL_TRADE_20240702"
    path.write_text(_daily_taq(("093000000000001", "@", "00"), ("096100000000000", "@", "00")))
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("nyse_taq_trades"))
    assert (info.value.line, info.value.column) == (3, "Time")


def test_taq_clock_format_without_relative_date_rejected() -> None:
    with pytest.raises(ValueError, match="time of day"):
        _mapping(
            record_type="trade",
            symbol="X",
            columns={"ts_event": "t", "price": "p"},
            time={"format": "HHMMSSXXXXXXXXX"},
        )
