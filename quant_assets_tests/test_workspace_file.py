"""The root ``workspace.yaml``: the compose/prod webserver's and daemon's initial workspace (the
user-code gRPC service), which the first ``quant deploy`` replaces with one it renders. Local
development reads pyproject's [tool.dg] instead."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.workspace.load import location_origins_from_yaml_paths

from quant_assets.deploy.deployer import DEFAULT_LOCATION
from quant_assets.lib.deploy import CodeServer, Color, render_workspace
from quant_assets.lib.stack import ComposeProject

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "workspace.yaml"


def _initial_blue(host: str, port: int) -> CodeServer:
    return CodeServer(
        location=DEFAULT_LOCATION,
        color=Color.BLUE,
        host=host,
        port=port,
        ref="main",
        commit="0" * 40,
        working_dir="/opt/quant",
        module="quant_assets.definitions",
        attribute="defs",
        pid=None,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _origin() -> GrpcServerCodeLocationOrigin:
    (origin,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    assert isinstance(origin, GrpcServerCodeLocationOrigin)
    return origin


def test_workspace_file_parses_as_dagster_workspace_one_grpc_location() -> None:
    origin = _origin()
    assert (origin.host, origin.port, origin.location_name) == ("user-code", 4000, "quant_assets")


def test_workspace_file_matches_deployer_render_for_initial_blue(tmp_path: Path) -> None:
    entry = yaml.safe_load(WORKSPACE.read_text())["load_from"][0]["grpc_server"]
    rendered = tmp_path / "workspace.yaml"
    rendered.write_text(render_workspace([_initial_blue(entry["host"], entry["port"])]))
    assert location_origins_from_yaml_paths([str(WORKSPACE)]) == location_origins_from_yaml_paths(
        [str(rendered)]
    )


def test_workspace_file_points_at_compose_user_code_service() -> None:
    project = ComposeProject.load(REPO / "docker" / "compose.yaml", {}, "t")
    command = list(project.services["user-code"].command or ())
    origin = _origin()
    assert origin.host in project.services  # the service name is its host name
    assert origin.host == "user-code"
    assert str(origin.port) == command[command.index("--port") + 1]
    assert origin.location_name == command[command.index("--location-name") + 1]
    for service in ("webserver", "daemon"):
        assert project.services[service].configs == (
            ("workspace", "/opt/quant/deploy/workspace.yaml"),
        )
    assert project.configs["workspace"] == WORKSPACE.read_text()


def test_dagster_cli_in_repo_root_prefers_pyproject_over_workspace_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``dagster dev`` / ``quant ui`` in the repository keep loading [tool.dg]'s location."""
    from dagster._cli.workspace.cli_target import _get_workspace_load_target_from_cli_opts
    from dagster._core.workspace.load_target import PyProjectFileTarget
    from dagster_shared.cli import WorkspaceOpts

    monkeypatch.chdir(REPO)
    target = _get_workspace_load_target_from_cli_opts(WorkspaceOpts())
    assert isinstance(target, PyProjectFileTarget)
