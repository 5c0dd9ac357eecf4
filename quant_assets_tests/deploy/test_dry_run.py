"""The deploy health check's dry run, against a real QA data root (local deployment): one
partition is cleaned by the project's definitions in a scratch root, and QA stays untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks.pipeline import build_raw
from quant_assets.lib.ticks.synthetic_source import synthetic_source

REPO = Path(__file__).resolve().parents[2]


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
    build_raw(ObjectStore.local(qa), date(2024, 1, 2), "SYNA", synthetic_source(2000, 7))
    before = _files(qa)
    rc, result = _dry_run(qa, "2024-01-02|SYNA")
    assert (rc, result["ok"], result["raw_rows"]) == (0, True, 2000)
    assert 0 < int(result["clean_rows"]) < 2000  # the synthetic source plants bad ticks
    assert _files(qa) == before


def test_dry_run_partition_missing_in_qa_fails_with_reason(tmp_path: Path) -> None:
    rc, result = _dry_run(tmp_path / "qa", "2024-01-05|NOPE")
    assert rc == 1 and result["ok"] is False
    assert "no raw ticks for 2024-01-05|NOPE" in str(result["error"])
