"""``quant deploy`` / ``quant rollback`` / ``quant deploy-status`` / ``quant undeploy``.

Quiet by default (one line per outcome, one-line errors, exit 1 on failure); ``-v`` shows each
step and the health checks. Registered on the main ``quant`` group by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from quant_assets.lib.deploy import DeployError

if TYPE_CHECKING:
    from quant_assets.deploy.deployer import Deployer

_root = click.option(
    "--deploy-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="state, workspace.yaml, logs, checkouts [QUANT_DEPLOY_ROOT or <data root>/deploy]",
)
_webserver = click.option(
    "--webserver-url",
    envvar="QUANT_WEBSERVER_URL",
    default=None,
    help="running webserver to reload after the switch [QUANT_WEBSERVER_URL]",
)
_verbose = click.option("-v", "--verbose", is_flag=True, help="show each step")


def _deployer(root: Path | None, webserver_url: str | None, verbose: bool, **kw: Any) -> Deployer:
    from quant_assets.deploy.deployer import Deployer, default_root

    log = (lambda msg: click.echo(msg, err=True)) if verbose else (lambda _msg: None)
    return Deployer(root or default_root(), webserver_url=webserver_url, log=log, **kw)


def _short(commit: str) -> str:
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def _fail(message: str) -> None:
    raise click.ClickException(message.splitlines()[0] if message else "failed")


@click.command()
@click.option("--ref", default=None, help="git branch/tag/commit to deploy [the working tree]")
@click.option("--branch", default=None, help="deploy BRANCH as its own code location (QA)")
@click.option("--location", default=None, help="code location name [quant_assets]")
@click.option("--module", default="quant_assets.definitions", show_default=True)
@click.option("--attribute", default="defs", show_default=True)
@click.option(
    "--dry-run-partition",
    envvar="QUANT_DEPLOY_DRY_RUN_PARTITION",
    default=None,
    help="session|market built from QA data as a health check [QUANT_DEPLOY_DRY_RUN_PARTITION]",
)
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--ports", default="4100-4199", show_default=True, help="range for code servers")
@_root
@_webserver
@_verbose
def deploy(
    ref: str | None,
    branch: str | None,
    location: str | None,
    module: str,
    attribute: str,
    dry_run_partition: str | None,
    repo: Path,
    host: str,
    ports: str,
    deploy_root: Path | None,
    webserver_url: str | None,
    verbose: bool,
) -> None:
    """Start a new code server (green) beside the serving one, health-check it, switch."""
    from quant_assets.deploy.deployer import DEFAULT_LOCATION, branch_location

    if branch and ref:
        _fail("give --ref or --branch, not both")
    if branch:
        ref, location = branch, location or branch_location(branch)
    first, _, last = ports.partition("-")
    try:
        deployer = _deployer(
            deploy_root, webserver_url, verbose, host=host, ports=(int(first), int(last or first))
        )
        outcome = deployer.deploy(
            repo,
            ref=ref,
            location=location or DEFAULT_LOCATION,
            module=module,
            attribute=attribute,
            dry_run_partition=dry_run_partition,
        )
    except (DeployError, ValueError) as exc:
        _fail(str(exc))
        return
    if not outcome.switched:
        _fail(f"{outcome.location}: not switched, the serving server stays ({outcome.error})")
    server = outcome.server
    assert server is not None
    click.echo(
        f"{outcome.location}: {server.color.value} {_short(server.commit)} serving on "
        f"{server.address}"
        + (f" (stopped {len(outcome.retired)} drained)" if outcome.retired else "")
    )


@click.command()
@click.option("--location", default="quant_assets", show_default=True)
@_root
@_webserver
@_verbose
def rollback(
    location: str, deploy_root: Path | None, webserver_url: str | None, verbose: bool
) -> None:
    """Serve the previous code server of LOCATION again (it was kept warm by the deploy)."""
    try:
        server = _deployer(deploy_root, webserver_url, verbose).rollback(location)
    except DeployError as exc:
        _fail(str(exc))
        return
    click.echo(
        f"{location}: rolled back to {server.color.value} {_short(server.commit)} "
        f"on {server.address}"
    )


@click.command("deploy-status")
@_root
def deploy_status(deploy_root: Path | None) -> None:
    """Which server serves each code location, and the standby kept for rollback."""
    from quant_assets.deploy.servers import ping

    deployer = _deployer(deploy_root, None, False)
    try:
        state = deployer.state()
    except DeployError as exc:
        _fail(str(exc))
        return
    if not state.locations:
        click.echo("nothing deployed")
    for name, loc in sorted(state.locations.items()):
        for role, s in (("active", loc.active), ("standby", loc.standby)):
            if s is not None:
                up = "up" if ping(s) else "DOWN"
                click.echo(
                    f"{name:30s} {role:8s} {s.color.value:5s} {_short(s.commit)} {s.address} {up}"
                )
        for s in loc.draining:
            click.echo(f"{name:30s} draining {s.color.value:5s} {_short(s.commit)} {s.address}")
    click.echo(f"workspace: {deployer.workspace_path}")


@click.command()
@click.option("--location", default=None)
@click.option("--branch", default=None, help="the branch given to `quant deploy --branch`")
@_root
@_webserver
def undeploy(
    location: str | None, branch: str | None, deploy_root: Path | None, webserver_url: str | None
) -> None:
    """Stop a code location's servers and remove it from the workspace (branch deploys)."""
    from quant_assets.deploy.deployer import branch_location

    name = location or (branch_location(branch) if branch else None)
    if not name:
        _fail("give --location or --branch")
        return
    try:
        stopped = _deployer(deploy_root, webserver_url, False).undeploy(name)
    except DeployError as exc:
        _fail(str(exc))
        return
    click.echo(f"{name}: removed, {len(stopped)} server(s) stopped")


def register(group: click.Group) -> None:
    for command in (deploy, rollback, deploy_status, undeploy):
        group.add_command(command)
