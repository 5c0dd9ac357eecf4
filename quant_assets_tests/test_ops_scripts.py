"""The scripts CI calls (scripts/deploy.sh, scripts/qa_smoke.sh), run for real: a code server
process from a git ref, and the smoke flow against SeaweedFS S3 + TimescaleDB."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from quant_assets_tests.services import S3Server

REPO = Path(__file__).resolve().parents[1]
FLIP = REPO / "quant_assets_tests" / "deploy" / "flip_location.py"


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_deploy_script_serves_ref_and_refuses_rollback_without_standby(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "flipdefs.py").write_text(FLIP.read_text())
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1"], ["tag", "v1"]):
        subprocess.run([*git, *args], check=True)
    env = {**os.environ, "QUANT_DEPLOY_ROOT": str(tmp_path / "deploy"), "PYTHONPATH": str(REPO)}
    env.pop("QUANT_WEBSERVER_URL", None)
    target = ["--repo", str(repo), "--ref", "v1", "--location", "flip", "--module", "flipdefs"]
    try:
        out = _run(["scripts/deploy.sh", *target, "--ports", "4380-4389"], env)
        assert out.returncode == 0, out.stderr
        assert "flip: blue" in out.stdout and "active" in out.stdout
        assert "port: 438" in (tmp_path / "deploy" / "workspace.yaml").read_text()
        out = _run(["scripts/deploy.sh", "rollback", "--location", "flip"], env)
        assert out.returncode == 1
        assert "no standby" in out.stderr
    finally:
        _run([str(REPO / ".venv" / "bin" / "quant"), "undeploy", "--location", "flip"], env)


@pytest.mark.slow
def test_qa_smoke_script_lands_cleans_and_reads_metrics(
    s3_server: S3Server, s3_bucket: str, tsdb_database: str
) -> None:
    env = {
        **os.environ,
        **s3_server.env(),
        "QUANT_DEPLOYMENT": "prod",
        "QUANT_S3_BUCKET": s3_bucket,
        "QUANT_TSDB_DSN": tsdb_database,
        "PYTHONPATH": str(REPO),
    }
    env.pop("QUANT_WEBSERVER_URL", None)
    out = _run(["scripts/qa_smoke.sh"], env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("smoke ok:")
