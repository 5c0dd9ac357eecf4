from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from quant_assets.lib.warehouse.duckdb_backend import WarehouseBusyError, connect_waiting


def hold_file(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    code = (
        f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
        f"print(1, flush=True); time.sleep({seconds})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()
    return proc


def test_connect_waiting_file_held_by_other_process_waits_then_connects(tmp_path: Path) -> None:
    holder = hold_file(tmp_path / "w.duckdb", 2.0)
    start = time.monotonic()
    connect_waiting(str(tmp_path / "w.duckdb"), timeout_s=30).close()
    assert time.monotonic() - start > 0.5  # it had to wait for the other process
    holder.wait()


def test_connect_waiting_held_past_timeout_raises_busy(tmp_path: Path) -> None:
    holder = hold_file(tmp_path / "w.duckdb", 5.0)
    with pytest.raises(WarehouseBusyError, match="stayed locked"):
        connect_waiting(str(tmp_path / "w.duckdb"), timeout_s=0.5)
    holder.kill()
