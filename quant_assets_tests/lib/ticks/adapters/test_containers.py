"""Vendor files in containers (zip, gz, zst) and honest reasons when they cannot be read."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from quant_assets.lib.ticks.adapters import detect_source, read_vendor_file
from quant_assets.lib.ticks.adapters.errors import MalformedFileError

LOBSTER = "34200.025551909,4,16113575,18,5853300,1\n34200.2,4,16113576,10,5853400,-1\n"
NAME = "AAPL_2012-06-21_34200000_57600000_message_1.csv"
TARDIS = (
    "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    "bitmex,XBTUSD,1585699200245000,1585699200247000,a1,buy,6421.5,100\n"
)


def test_zip_member_is_read_and_named_in_errors(tmp_path: Path) -> None:
    archive = tmp_path / "day.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(NAME, LOBSTER + "34201,4,1,10,bad,1\n")
    with pytest.raises(MalformedFileError) as info:
        read_vendor_file(archive, "lobster_messages")
    assert info.value.path == f"{archive}!{NAME}"
    assert info.value.line == 3


def test_zip_with_tardis_csv_detected_and_read(tmp_path: Path) -> None:
    archive = tmp_path / "bitmex.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bitmex_trades_XBTUSD.csv", TARDIS)
    assert detect_source(archive) == "tardis"
    assert read_vendor_file(archive, "tardis").num_rows == 1


def test_zip_with_several_members_says_which_to_choose(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", TARDIS)
        zf.writestr("b.csv", TARDIS)
    with pytest.raises(MalformedFileError, match="2 members"):
        read_vendor_file(archive, "tardis")


def test_gzip_and_zstd_files_read_like_plain_ones(tmp_path: Path) -> None:
    gz = tmp_path / f"{NAME}.gz"
    gz.write_bytes(gzip.compress(LOBSTER.encode()))
    zst = tmp_path / f"{NAME}.zst"
    with pa.output_stream(str(zst), compression="zstd") as out:
        out.write(LOBSTER.encode())
    assert read_vendor_file(gz, "lobster_messages").num_rows == 2
    assert read_vendor_file(zst, "lobster_messages").num_rows == 2


def test_truncated_gzip_reason_says_truncated_not_no_adapter(tmp_path: Path) -> None:
    data = gzip.compress(
        (TARDIS * 1).encode()
        + b"".join(b"bitmex,XBTUSD,%d,%d,a,buy,6421.5,1\n" % (i, i) for i in range(20_000))
    )
    path = tmp_path / "trades.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedFileError, match="truncated gzip stream"):
        detect_source(path)


def test_overlong_line_reason_names_line_and_length(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    huge_id = b"x" * (40 << 20)
    path.write_bytes(TARDIS.encode() + b"bitmex,XBTUSD,1,1," + huge_id + b",buy,1,1\n")
    with pytest.raises(MalformedFileError, match=r"line 3 is 41\.9 MB long, over the 17 MB"):
        read_vendor_file(path, "tardis")
