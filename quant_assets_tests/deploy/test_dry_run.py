"""The deploy health check's dry run, against a real QA data root (local deployment): one
partition is cleaned by the project's definitions in a scratch root, and QA stays untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.landing import ingest, list_incoming
from quant_assets.lib.ticks.sessions import market_for

REPO = Path(__file__).resolve().parents[2]
VENDOR_FILE = (
    REPO.parent
    / "shared"
    / "data"
    / "ticks"
    / "databento_python"
    / "EQUS.MINI"
    / "test_data.trades.dbn.zst"
)


def _qa_with_staged_ticks(qa: Path) -> str:
    """A QA data root holding one ingested vendor file; returns a partition it covers."""
    store = ObjectStore.local(qa)
    store.write_bytes(f"landing/incoming/auto/{VENDOR_FILE.name}", VENDOR_FILE.read_bytes())
    (landed,) = list_incoming(store)
    day, symbol = sorted(ingest(store, landed).partitions)[0]
    return f"{day}|{market_for(symbol).name}"


def _dry_run(qa_root: Path, partition: str) -> tuple[int, dict[str, Any]]:
    env = {
        **os.environ,
        "QUANT_DEPLOYMENT": "local",
        "QUANT_DATA_ROOT": str(qa_root),
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-m", "quant_assets.deploy.dry_run", "--partition", partition],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1])


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_dry_run_qa_partition_cleans_in_scratch_and_leaves_qa_untouched(tmp_path: Path) -> None:
    qa = tmp_path / "qa"
    partition = _qa_with_staged_ticks(qa)
    before = _files(qa)
    rc, result = _dry_run(qa, partition)
    assert (rc, result["ok"]) == (0, True), result
    assert 0 <= int(result["clean_rows"]) <= int(result["raw_rows"])
    assert int(result["raw_rows"]) > 0
    assert _files(qa) == before  # nothing written to QA


def test_dry_run_partition_missing_in_qa_fails_with_reason(tmp_path: Path) -> None:
    rc, result = _dry_run(tmp_path / "qa", "2024-01-05|XNYS")
    assert rc == 1 and result["ok"] is False
    assert "no staged ticks for 2024-01-05|XNYS" in str(result["error"])
