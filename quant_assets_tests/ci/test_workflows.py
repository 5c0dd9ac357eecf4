"""CI/CD as code: the workflows, the scripts their steps call, the Dockerfiles and the lock files.

Every ``run:`` step of ``.github/workflows/*.yml`` is one call of a script under ``scripts/ci/``;
this module runs each of those scripts (the container-engine ones with ``--dry-run``: no Docker
engine or registry here; ``setup.sh`` is only syntax-checked because it reinstalls the venv —
``scripts/test.sh`` runs it for real).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
TESTS = REPO_ROOT / "quant_assets_tests"
DOCKERFILES = [REPO_ROOT / "docker" / "Dockerfile", REPO_ROOT / "docker" / "Dockerfile.cpu"]
LOCKS = sorted((REPO_ROOT / "docker").glob("*.lock"))


def _sh(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _steps() -> list[tuple[str, str, dict[str, Any]]]:
    steps = []
    for wf in WORKFLOWS:
        for job_name, job in yaml.safe_load(wf.read_text())["jobs"].items():
            steps += [(wf.name, job_name, step) for step in job["steps"]]
    return steps


def test_workflows_pr_and_main_exist_with_expected_jobs() -> None:
    jobs = {wf.stem: set(yaml.safe_load(wf.read_text())["jobs"]) for wf in WORKFLOWS}
    assert jobs["pr"] == {"lint", "test", "images"}
    assert jobs["main"] == {"lint", "test", "images", "qa-smoke", "deploy"}


def test_workflows_actionlint_clean() -> None:
    result = _sh("bash", "scripts/ci/lint.sh", "workflows")
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_every_run_step_is_one_repo_script_call() -> None:
    runs = [step["run"] for _, _, step in _steps() if "run" in step]
    assert runs
    for run in runs:
        assert "\n" not in run.strip() and not re.search(r"[;&|`$]", run), run
        script = run.split()[0]
        assert script.startswith("scripts/ci/") and (REPO_ROOT / script).is_file(), run


def test_workflows_every_called_script_run_by_a_test() -> None:
    scripts = {step["run"].split()[0] for _, _, step in _steps() if "run" in step}
    test_text = "".join(p.read_text() for p in TESTS.rglob("test_*.py"))
    for script in scripts:
        assert Path(script).name in test_text, f"no test runs {script}"


def test_setup_script_is_valid_bash() -> None:
    assert _sh("bash", "-n", "scripts/ci/setup.sh").returncode == 0


def test_test_script_runs_selected_tests_and_rejects_unknown_pass() -> None:
    ok = _sh("bash", "scripts/ci/test.sh", "default", "quant_assets_tests/test_env_template.py")
    assert ok.returncode == 0 and "2 passed" in ok.stdout, ok.stdout + ok.stderr
    assert _sh("bash", "scripts/ci/test.sh", "nightly").returncode == 2


def test_images_script_release_multi_arch_push_sha_latest_with_cache() -> None:
    result = _sh("bash", "scripts/ci/images.sh", "release", "--dry-run")
    assert result.returncode == 0, result.stderr
    sha = _sh("git", "rev-parse", "HEAD").stdout.strip()
    gpu = next(line for line in result.stdout.splitlines() if "docker/Dockerfile " in line)
    assert "linux/amd64\\,linux/arm64" in gpu and "--push" in gpu
    assert f"quant-platform:{sha} " in gpu and "quant-platform:latest " in gpu
    assert "--cache-from type=registry" in gpu and "mode=max" in gpu
    assert result.stdout.count("secret_scan.sh image") == 2


def test_images_script_pr_builds_test_and_runtime_targets_then_scans() -> None:
    out = _sh("bash", "scripts/ci/images.sh", "pr", "--dry-run").stdout
    assert out.count("--target test") == 2 and out.count("--target runtime --load") == 2
    assert out.count("secret_scan.sh image") == 2


def test_qa_smoke_script_uses_the_commit_tags() -> None:
    result = _sh("bash", "scripts/ci/qa_smoke.sh", "--dry-run")
    sha = _sh("git", "rev-parse", "HEAD").stdout.strip()
    assert result.returncode == 0, result.stderr
    assert f"QUANT_TRAINING_IMAGE=localhost/quant/quant-platform:{sha}" in result.stdout
    assert "up -d --wait --no-build" in result.stdout and "down --volumes" in result.stdout


def test_deploy_script_calls_quant_deploy_with_commit_image() -> None:
    result = _sh("bash", "scripts/ci/deploy.sh", "--dry-run")
    sha = _sh("git", "rev-parse", "HEAD").stdout.strip()
    assert result.returncode == 0, result.stderr
    assert "deploy" in result.stdout and f"quant-platform:{sha}-cpu" in result.stdout


def test_dockerfiles_hadolint_clean() -> None:
    result = _sh("bash", "scripts/ci/lint.sh", "docker")
    assert result.returncode == 0, result.stdout + result.stderr


def _stages(dockerfile: Path) -> dict[str, tuple[str, str]]:
    """stage name -> (parent, body)."""
    text = dockerfile.read_text()
    stages: dict[str, tuple[str, str]] = {}
    parts = re.split(r"^FROM\s+", text, flags=re.M)[1:]
    for part in parts:
        header, _, body = part.partition("\n")
        parent, _, name = header.partition(" AS ")
        stages[name.strip()] = (parent.strip(), body)
    return stages


def _ancestry(stages: dict[str, tuple[str, str]], name: str) -> list[str]:
    chain = [name]
    while stages[chain[-1]][0] in stages:
        chain.append(stages[chain[-1]][0])
    return chain


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_base_pinned_runtime_last_without_tests_non_root(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    base_arg = re.search(r"^ARG (PYTHON|CUDA)_IMAGE=(\S+)$", text, flags=re.M)
    assert base_arg and re.search(r"@sha256:[0-9a-f]{64}$", base_arg.group(2))
    stages = _stages(dockerfile)
    assert list(stages)[-1] == "runtime" and "test" in stages
    runtime_text = "".join(stages[s][1] for s in _ancestry(stages, "runtime"))
    runtime_text = re.sub(r"^\s*#.*$", "", runtime_text, flags=re.M)  # instructions only
    for forbidden in ("pytest", "requirements-test", "quant_assets_tests"):
        assert forbidden not in runtime_text, forbidden
    installs = re.findall(r"pip install [^\n]*-r /tmp/lock/\S+", runtime_text)
    assert installs and all("--require-hashes" in line for line in installs)
    users = re.findall(r"^USER (\S+)$", runtime_text, flags=re.M)
    assert users and users[-1].split(":")[0] not in {"0", "root"}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_lock_every_requirement_pinned_with_hashes(lock: Path) -> None:
    text = re.sub(r"\\\n\s*", " ", lock.read_text())
    lines = [line.split(" #")[0].strip() for line in text.splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==\S+ ", line), line
        assert "--hash=sha256:" in line, line


def test_locks_cover_every_runtime_dependency() -> None:
    def names(path: Path) -> set[str]:
        found = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==", path.read_text(), flags=re.M)
        return {re.sub(r"[-_.]+", "-", n).lower() for n in found}

    locked = names(REPO_ROOT / "docker" / "requirements.lock") | names(
        REPO_ROOT / "docker" / "torch-gpu.lock"
    )
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {re.sub(r"[-_.]+", "-", re.split(r"[<>=\[ ;]", d)[0]).lower() for d in deps}
    assert wanted <= locked, f"scripts/lock_deps.sh: not locked {sorted(wanted - locked)}"


@pytest.mark.slow
def test_lint_script_python_ruff_black_mypy_clean() -> None:
    result = _sh("bash", "scripts/ci/lint.sh", "python", timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
