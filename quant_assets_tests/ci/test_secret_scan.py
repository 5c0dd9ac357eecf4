"""``scripts/ci/secret_scan.sh``: the repository against its reviewed baseline, a planted key, and
a built image's ENV/history/files (slow: needs rootful Podman, as ``test_docker_executor``)."""

from __future__ import annotations

import json
import secrets
import string
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "ci" / "secret_scan.sh"


def _scan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def _fake_aws_key() -> tuple[str, str]:
    upper = string.ascii_uppercase + "234567"
    key_id = "AKIA" + "".join(secrets.choice(upper) for _ in range(16))
    return key_id, secrets.token_urlsafe(30)


def test_secrets_baseline_reviewed_every_entry_marked_not_secret() -> None:
    baseline = json.loads((REPO_ROOT / ".secrets.baseline").read_text())
    entries = [r for rs in baseline["results"].values() for r in rs]
    assert entries, "an empty baseline would make this test vacuous"
    assert all(r.get("is_secret") is False for r in entries)


def test_secret_scan_repo_tracked_files_clean_against_baseline() -> None:
    result = _scan("repo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clean against .secrets.baseline" in result.stdout


def test_secret_scan_repo_planted_aws_key_fails(tmp_path: Path) -> None:
    key_id, secret = _fake_aws_key()
    planted = tmp_path / "settings.py"
    planted.write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\naws_secret_access_key = "{secret}"\n')

    result = _scan("repo", str(planted), str(REPO_ROOT / "README.md"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "AWS Access Key" in result.stdout


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_secret_scan_image_clean_then_planted_env_and_arg_fail(tmp_path: Path) -> None:
    """The image the tests build locally (``quant-runtime:test``), then a child image with a
    planted key in an ``ENV`` and in a ``RUN`` that uses an ``ARG`` (kept in the history)."""
    from quant_assets_tests.test_docker_executor import (
        IMAGE,
        _podman_unavailable_reason,
        _script,
    )

    reason = _podman_unavailable_reason()
    if reason:
        pytest.skip(reason)
    _script("start", timeout_s=600)
    _script("build-base-image", timeout_s=1800)
    env = {"CONTAINER_ENGINE": "podman", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    clean = _scan("image", IMAGE, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    key_id, secret = _fake_aws_key()
    (tmp_path / "Containerfile").write_text(
        f"FROM {IMAGE}\nARG DEPLOY_TOKEN\nENV AWS_ACCESS_KEY_ID={key_id}\n"
        'RUN echo "token=${DEPLOY_TOKEN}" > /dev/null\n'
    )
    subprocess.run(
        [
            "podman",
            "build",
            "--network",
            "none",
            "--build-arg",
            f"DEPLOY_TOKEN={secret}",
            "-t",
            "quant-planted:test",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    try:
        planted = _scan("image", "quant-planted:test", env=env)
    finally:
        subprocess.run(["podman", "rmi", "-f", "quant-planted:test"], check=False)
    assert planted.returncode == 1, planted.stdout + planted.stderr
    assert "env.txt" in planted.stdout + planted.stderr
