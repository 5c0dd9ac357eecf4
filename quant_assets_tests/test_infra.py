"""infra/ (Terraform) and docker/compose.yaml: format, static analysis and the pieces the
platform needs. `terraform validate`/`plan` need the AWS provider (a registry download) and an
account, so they are not run here; see README "Re-creating the stack"."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
COMPOSE = REPO / "docker" / "compose.yaml"
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH")


def _terraform_fmt(path: Path) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    return subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-list=true", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@needs_terraform
def test_terraform_fmt_infra_is_formatted() -> None:
    out = _terraform_fmt(INFRA)
    assert out.returncode == 0, f"run `terraform fmt -recursive infra`: {out.stdout}"


@needs_terraform
def test_terraform_fmt_misaligned_file_fails(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('variable "x" {\n  type = string\n  default     = "a"\n}\n')
    assert _terraform_fmt(tmp_path).returncode != 0


def _resources() -> set[str]:
    text = "\n".join(p.read_text() for p in INFRA.glob("*.tf"))
    return set(re.findall(r'^resource "(\w+)"', text, flags=re.M))


def test_infra_declares_every_platform_piece() -> None:
    required = {
        "aws_s3_bucket",  # the lake
        "aws_s3_bucket_lifecycle_configuration",
        "aws_ecr_repository",  # the registry
        "aws_db_instance",  # Dagster instance database
        "aws_instance",  # TimescaleDB host
        "aws_secretsmanager_secret",
        "aws_iam_role",  # run containers
        "aws_launch_template",  # GPU pool
        "aws_autoscaling_group",
    }
    assert required <= _resources()


def _checkov(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(REPO / "scripts" / "tools" / "checkov.sh"),
            "-d",
            str(path),
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


@pytest.mark.slow
def test_checkov_infra_passes() -> None:
    out = _checkov(INFRA)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "Failed checks: 0" in out.stdout


@pytest.mark.slow
def test_checkov_public_bucket_fails(tmp_path: Path) -> None:
    shutil.copytree(INFRA, tmp_path / "infra")
    storage = tmp_path / "infra" / "storage.tf"
    storage.write_text(
        storage.read_text().replace(
            "restrict_public_buckets = true", "restrict_public_buckets = false"
        )
    )
    out = _checkov(tmp_path / "infra")
    assert out.returncode != 0
    assert "CKV_AWS_56" in out.stdout  # restrict_public_buckets


# --------------------------------------------------------------------------- compose


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_platform_profile_runs_every_service() -> None:
    services = _compose()["services"]
    platform = {n for n, s in services.items() if "platform" in s.get("profiles", [])}
    assert {"timescaledb", "s3", "dagster-db", "user-code", "webserver", "daemon"} <= platform
    # Grafana: its own profile (no offline build of it; the local podman stack runs without).
    assert services["grafana"]["profiles"] == ["grafana"]


def test_compose_workspace_config_is_root_workspace_file() -> None:
    spec = _compose()
    assert (COMPOSE.parent / spec["configs"]["workspace"]["file"]).resolve() == (
        REPO / "workspace.yaml"
    )


def test_compose_every_service_has_a_profile_so_up_starts_no_one_shot_training() -> None:
    assert all(s.get("profiles") for s in _compose()["services"].values())


def test_compose_local_env_file_images_are_local() -> None:
    text = (COMPOSE.parent / "stack-local.env").read_text()
    images = dict(line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    assert images and all(v.startswith("localhost/") for v in images.values())
    compose = COMPOSE.read_text()
    assert all(f"${{{name}:-" in compose for name in images), "every override is used"


def test_compose_dagster_services_get_every_instance_variable() -> None:
    needed = set(re.findall(r"\{env: (\w+)\}", (REPO / "dagster.yaml").read_text()))
    services = _compose()["services"]
    for name in ("user-code", "webserver", "daemon"):
        assert needed <= set(services[name]["environment"]), name


def test_compose_grafana_mounts_provisioning_with_its_variables() -> None:
    grafana = _compose()["services"]["grafana"]
    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (COMPOSE.parent / source).is_dir(), source
    datasource = (COMPOSE.parent / "grafana/provisioning/datasources/timescaledb.yaml").read_text()
    wanted = set(re.findall(r"\$\{(QUANT_\w+)\}", datasource))
    assert wanted <= set(grafana["environment"])
