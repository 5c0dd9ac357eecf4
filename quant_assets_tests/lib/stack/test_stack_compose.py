"""The compose reader that turns docker/compose.yaml into ``podman run`` commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from quant_assets.lib.stack import ComposeError, ComposeProject, Condition
from quant_assets.lib.stack.compose import duration_s, interpolate

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker" / "compose.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


def test_interpolate_compose_forms_resolve_like_compose() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET}-$$X", env) == "v--$X"
    assert interpolate("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}|${SET:-d}", env) == "d||d|v"
    with pytest.raises(ComposeError, match="NEEDED"):
        interpolate("${NEEDED:?set it}", env)


def test_duration_compose_strings_give_seconds() -> None:
    assert [duration_s(d) for d in ("2s", "1m30s", "5m", 7)] == [2.0, 90.0, 300.0, 7.0]
    with pytest.raises(ComposeError):
        duration_s("2h")


def test_compose_platform_profile_orders_dependencies_first() -> None:
    project = ComposeProject.load(COMPOSE, {}, "t")
    order = [s.name for s in project.select(["platform"])]
    assert "grafana" not in order and "train-smoke" not in order
    for svc in project.select(["platform"]):
        assert all(order.index(dep) < order.index(svc.name) for dep in svc.depends_on)
    assert project.services["user-code"].depends_on["s3-bucket"] is Condition.COMPLETED


def test_compose_named_service_starts_outside_its_profile_with_dependencies() -> None:
    project = ComposeProject.load(COMPOSE, {}, "t")
    assert [s.name for s in project.select([], ["train-smoke"])] == ["train-smoke"]
    assert [s.name for s in project.select([], ["s3-bucket"])] == ["s3", "s3-bucket"]


def test_compose_local_env_file_selects_local_images_and_ports() -> None:
    env = {"QUANT_TSDB_IMAGE": "localhost/quant-timescaledb:pg17", "QUANT_STACK_TSDB_PORT": "5999"}
    tsdb = ComposeProject.load(COMPOSE, env, "t").services["timescaledb"]
    assert tsdb.image == "localhost/quant-timescaledb:pg17"
    assert tsdb.ports == ("127.0.0.1:5999:5432",)


def test_run_args_secrets_in_env_file_not_on_command_line(tmp_path: Path) -> None:
    project = ComposeProject.load(COMPOSE, {"QUANT_TSDB_PASSWORD": "pw-on-argv?"}, "t")
    for svc in project.select(["platform"]):
        args = project.run_args(svc, tmp_path / "configs", tmp_path / f"{svc.name}.env")
        assert not any("pw-on-argv?" in a for a in args), svc.name
        assert args[args.index("--env-file") + 1] == str(tmp_path / f"{svc.name}.env")
    user_code = project.services["user-code"]
    assert "pw-on-argv?" in user_code.environment["QUANT_TSDB_DSN"]


def test_run_args_named_volume_and_config_are_project_scoped(tmp_path: Path) -> None:
    project = ComposeProject.load(COMPOSE, {}, "proj")
    args = project.run_args(project.services["webserver"], tmp_path, tmp_path / "e")
    assert args[args.index("--name") + 1] == "proj-webserver-1"
    assert f"{tmp_path / 'workspace'}:/opt/quant/deploy/workspace.yaml:ro" in args
    assert "--init" in args  # dagster processes get SIGTERM (no 10 s stop timeout)
    tsdb = project.run_args(project.services["timescaledb"], tmp_path, tmp_path / "e")
    assert "proj_tsdb-data:/var/lib/postgresql/data" in tsdb
    assert project.configs["workspace"] == (REPO / "workspace.yaml").read_text()


def test_compose_unsupported_service_key_raises(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  a:\n    image: x\n    deploy: {replicas: 2}\n")
    with pytest.raises(ComposeError, match="deploy"):
        ComposeProject.load(path, {}, "t")


def test_compose_dependency_cycle_raises(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
    )
    with pytest.raises(ComposeError, match="cycle"):
        ComposeProject.load(path, {}, "t").select([], ["a"])
