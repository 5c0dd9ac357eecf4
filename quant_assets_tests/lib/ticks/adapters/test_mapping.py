"""Generic mapping adapter on the real Binance/TrueFX samples and on broken files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapped_reader import read_mapped
from quant_assets.lib.ticks.adapters.mapping import VendorMapping, load_mapping
from quant_assets.lib.ticks.schema import TICK_SCHEMA

REPO = Path(__file__).resolve().parents[4]
DATA = REPO.parent / "shared" / "data" / "ticks" / "nautilus_trader"


def _real(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"shared tick sample {path} not present (read-only data outside the repo)")
    return path


def _is_sorted(table: pa.Table) -> bool:
    ts = table.column("ts_event").combine_chunks()
    return len(ts) < 2 or bool(pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py())


def test_read_mapped_binance_trades_2001_rows_sell_aggressor_from_buyer_maker() -> None:
    table = read_mapped(_real("btcusdt-trades.parquet"), load_mapping("binance_trades"))
    assert table.schema == TICK_SCHEMA
    assert table.num_rows == 2001
    assert set(table.column("symbol").to_pylist()) == {"BTCUSDT"}
    first = table.slice(0, 1).to_pylist()[0]
    assert first["side"] == "S"  # buyer_maker "True" -> the seller hit the bid
    assert first["sequence"] == 553287559
    assert set(table.column("record_type").to_pylist()) == {"trade"}
    assert table.column("side").null_count == 0
    assert _is_sorted(table)


def test_read_mapped_binance_quotes_451_rows_symbol_normalised() -> None:
    table = read_mapped(_real("btcusdt-quotes.parquet"), load_mapping("binance_quotes"))
    assert table.num_rows == 451
    assert set(table.column("symbol").to_pylist()) == {"BTCUSDT"}
    assert table.column("price").null_count == 451
    assert table.column("bid_price").null_count == 0


def test_read_mapped_truefx_whole_second_row_parses_as_zero_fraction() -> None:
    table = read_mapped(_real("usdjpy-ticks.csv"), load_mapping("truefx"))
    assert table.num_rows == 1000
    assert table.column("symbol")[0].as_py() == "USDJPY"
    ts = table.column("ts_event").cast(pa.int64()).to_pylist()
    whole = 1357078167 * 10**9  # 2013-01-01 22:09:27+00:00, the row without a fraction
    assert whole in ts
    assert table.column("ts_event").type.tz == "UTC"


def test_read_mapped_truefx_raw_format_positions_and_strptime_fraction(tmp_path: Path) -> None:
    path = tmp_path / "USDJPY-2013-01.csv"
    path.write_text(
        "USD/JPY,20130101 22:00:00.123,86.655,86.728\n" "USD/JPY,20130101 22:00:01,86.656,86.729\n"
    )
    table = read_mapped(path, load_mapping("truefx_raw"))
    assert table.column("symbol").to_pylist() == ["USDJPY", "USDJPY"]
    ns = table.column("ts_event").cast(pa.int64()).to_pylist()
    assert ns[1] - ns[0] == 877_000_000


def test_read_mapped_bad_number_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "usdjpy-ticks.csv"
    rows = [f"2013-01-01 22:00:{i:02d}.000+00:00,86.{i:03d},86.9" for i in range(30)]
    rows[15] = "2013-01-01 22:00:15.000+00:00,abc,86.9"  # data row 16 = file line 17
    path.write_text("timestamp,bid,ask\n" + "\n".join(rows) + "\n")
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("truefx"))
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), 17, "bid")
    assert str(err) == f"{path}: line 17, column 'bid': could not parse 'abc' as a number"


def test_read_mapped_bad_timestamp_after_blank_line_counts_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "usdjpy-ticks.csv"
    path.write_text(
        "timestamp,bid,ask\n"
        "2013-01-01 22:00:00+00:00,1,2\n"
        "\n"
        "2013-13-01 22:00:00+00:00,1,2\n"
    )
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("truefx"))
    assert (info.value.line, info.value.column) == (4, "timestamp")
    assert "ISO-8601" in info.value.problem


def test_read_mapped_missing_column_raises_malformed(tmp_path: Path) -> None:
    path = tmp_path / "usdjpy-ticks.csv"
    path.write_text("timestamp,bid\n2013-01-01 22:00:00+00:00,1\n")
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("truefx"))
    assert info.value.column == "ask"


def test_read_mapped_ragged_row_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "usdjpy-ticks.csv"
    path.write_text(
        "timestamp,bid,ask\n2013-01-01 22:00:00+00:00,1,2\n2013-01-01 22:00:01+00:00,1\n"
    )
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("truefx"))
    assert info.value.line == 3


def test_read_mapped_unknown_side_value_raises_with_row(tmp_path: Path) -> None:
    path = tmp_path / "x-trades.parquet"
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table(
            {
                "timestamp": pa.array([1, 2], pa.timestamp("ms", tz="UTC")),
                "trade_id": [1, 2],
                "price": [1.0, 2.0],
                "quantity": [1.0, 1.0],
                "buyer_maker": ["True", "maybe"],
            }
        ),
        path,
    )
    with pytest.raises(MalformedFileError) as info:
        read_mapped(path, load_mapping("binance_trades"))
    assert (info.value.line, info.value.kind, info.value.column) == (2, "row", "buyer_maker")


def test_vendor_mapping_yaml_naive_local_time_converted_to_utc(tmp_path: Path) -> None:
    spec = tmp_path / "nyse_local.yaml"
    spec.write_text(
        "format: csv\nrecord_type: trade\nsymbol: IBM\n"
        "columns: {ts_event: 0, price: 1, size: 2}\n"
        "csv: {header: false, delimiter: ';'}\n"
        "time: {format: '%Y-%m-%d %H:%M:%S.%f', timezone: America/New_York}\n"
        "price_scale: 0.0001\n"
    )
    mapping = VendorMapping.from_file(spec)
    data = tmp_path / "ibm.csv"
    data.write_text("2024-07-02 09:30:00.5;1234500;100\n")
    table = read_mapped(data, mapping)
    row = table.to_pylist()[0]
    assert row["ts_event"].isoformat() == "2024-07-02T13:30:00.500000+00:00"
    assert row["price"] == pytest.approx(123.45)
    assert row["source"] == "nyse_local"


def test_vendor_mapping_without_symbol_source_is_rejected() -> None:
    with pytest.raises(ValueError, match="symbol"):
        VendorMapping.model_validate(
            {
                "name": "x",
                "format": "csv",
                "record_type": "trade",
                "columns": {"ts_event": 0, "price": 1},
            }
        )
