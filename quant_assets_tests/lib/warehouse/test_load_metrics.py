from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.mark.slow
def test_load_metrics_sixty_seconds_with_db_restart_drops_nothing(private_tsdb: Any) -> None:
    """The CI version of the load test: twice the production rate (README "Load": 8 runs x
    4,000 samples/s) for 60 s, the database down for 5 s at 20 s; the benchmark itself counts
    sent vs written and duplicates. The hour-long version is run by hand (README)."""
    out = subprocess.run(
        [
            sys.executable,
            "load_metrics.py",
            "--runs",
            "8",
            "--rate",
            "4000",
            "--duration",
            "60",
            "--restart-at",
            "20",
            "--outage",
            "5",
            "--dsn",
            private_tsdb.dsn,
        ],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(out.stdout, out.stderr)
    assert out.returncode == 0
    assert re.search(r"^dropped\s+0\s", out.stdout, re.MULTILINE)
    assert re.search(r"^duplicates\s+0\s", out.stdout, re.MULTILINE)
    assert "RESULT PASS" in out.stdout
