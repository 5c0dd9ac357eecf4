"""`quant mapping check` and the demo's --vendor-files option, through click's runner."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from quant_assets.cli import _vendor_files, main

LOBSTER = "34200.1,1,1,18,5853300,1\n34200.2,4,1,18,5853300,1\n"


def test_mapping_check_prints_rows_partitions_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "AAPL_2012-06-21_34200000_57600000_message_1.csv"
    path.write_text(LOBSTER)
    result = CliRunner().invoke(
        main, ["mapping", "check", str(path), "--source", "lobster_messages"]
    )
    assert result.exit_code == 0, result.output
    assert "rows: 1 parsed of 2 read, 1 skipped" in result.output
    assert "2012-06-21|AAPL  1 rows" in result.output
    assert "price=585.33" in result.output


def test_mapping_check_invalid_user_mapping_lists_every_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.toml").write_text('format = "csv"\n[columns]\nprice = 1\n')
    monkeypatch.setenv("QUANT_MAPPINGS_DIR", str(tmp_path))
    data = tmp_path / "x.csv"
    data.write_text("a\n1\n")
    result = CliRunner().invoke(main, ["mapping", "check", str(data), "--source", "broken"])
    assert result.exit_code == 1
    assert "columns.ts_event" in result.output and "invalid vendor mapping" in result.output


def test_demo_vendor_files_empty_string_skips() -> None:
    assert _vendor_files("") == []
    with pytest.raises(click.BadParameter):
        _vendor_files("/nonexistent/vendor/folder")
