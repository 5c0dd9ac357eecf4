"""``quant``: the platform's command line (main job, landing files, the UI).

Quiet by default: progress bars and one closing summary; Dagster's own logs go to a file under
``DAGSTER_HOME/quant_logs/`` (``-v`` streams them, at Dagster's default level).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from quant_assets.cli_mapping import mapping

if TYPE_CHECKING:
    from quant_assets.lib.monitoring.training_progress import TrainingProgress
    from quant_assets.main_job import MainJobReport, Stage

DEFAULT_DAGSTER_HOME = ".quant/dagster_home"
SHARED_TICKS = Path("../shared/data/ticks")
# The demo's own `dagster dev`: sensors look every 5 s so the flow settles quickly; the retrain
# sensor is left to `quant ui` (the demo trains its one policy explicitly).
DEMO_ENV = {"QUANT_LANDING_SENSOR_INTERVAL_S": "5", "QUANT_RETRAIN_SENSOR_INTERVAL_S": "3600"}


def _dagster_home() -> Path:
    """Local runs keep Dagster's SQLite instance under .quant/ unless DAGSTER_HOME is set; the
    local instance gets its dagster.yaml (queued runs fitted to the cores, run monitoring)."""
    from quant_assets.local_instance import ensure_local_instance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(DEFAULT_DAGSTER_HOME).absolute())))
    ensure_local_instance(home)
    return home


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="stream Dagster's logs (default: a log file)")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """quant-platform: tick lake → cleaning → costs → RL policies, on Dagster."""
    ctx.obj = {"verbose": verbose}


main.add_command(mapping)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--source", default="auto", show_default=True, help="adapter or mapping name")
def land(files: tuple[Path, ...], source: str) -> None:
    """Copy vendor FILES (or every file under a directory) into landing/incoming/<source>/."""
    from quant_assets.lib.settings import Settings
    from resources.object_store import ObjectStoreResource

    store = ObjectStoreResource.from_settings(Settings.from_env()).get_store()
    for path, relative in _expand(files):
        key = f"landing/incoming/{source}/{relative}"
        store.write_bytes(key, path.read_bytes())
        click.echo(f"landed {path} -> {store.uri(key)}")


def _expand(paths: tuple[Path, ...]) -> list[tuple[Path, str]]:
    """Files with the relative path they keep in the landing zone (same names in different
    vendor folders must not overwrite each other)."""
    out: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            out += [
                (f, f.relative_to(p).as_posix())
                for f in sorted(p.rglob("*"))
                if f.is_file() and f.name not in {"README.md", "SOURCE.txt"}
            ]
        else:
            out.append((p, p.name))
    return out


class _Bars:
    """rich progress bars (counts, elapsed, ETA), one per stage of the main job."""

    def __init__(self, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(width=None if sys.stdout.isatty() else 100)
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not enabled,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def training(self, progress: TrainingProgress) -> None:
        """One training's timesteps (a progress sink of ``lib.training.progress``)."""
        self._set("train", progress.timesteps, progress.total)

    def update(self, stages: Sequence[Stage]) -> None:
        for stage in stages:
            self._set(stage.name, stage.done, stage.total)

    def _set(self, name: str, done: int, total: int) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.tasks[name], completed=done, total=max(total, 1))


def _summary(report: MainJobReport, console: Any) -> None:
    from rich.table import Table

    table = Table(title=None, box=None, pad_edge=False, header_style="bold")
    for name, justify in (
        ("partition", "left"),
        ("raw", "right"),
        ("clean", "right"),
        ("quarantined", "right"),
        ("checks", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in report.partitions:
        failing = sorted(k for k, ok in p.checks.items() if not ok)
        checks = (
            "RUN FAILED"
            if not p.success
            else (f"FAIL: {', '.join(failing)}" if failing else f"{len(p.checks)} passed")
        )
        table.add_row(
            p.partition, str(p.raw or 0), str(p.clean or 0), str(p.quarantined or 0), checks
        )
    console.print(table)
    for f, reason in sorted(report.rejected.items()):
        console.print(f"rejected {f}: {reason[:160]}", highlight=False)
    for f, reason in sorted(report.unsupported.items()):
        console.print(f"not ingested (unsupported) {f}: {reason[:160]}", highlight=False)
    ok = sum(report.calibrated.values())
    console.print(
        f"{len(report.ingested)} files ingested, {len(report.rejected)} rejected; "
        f"cost_model_params calibrated for {ok} of {len(report.calibrated)} partitions",
        highlight=False,
    )
    if report.training:
        t = report.training
        console.print(
            (
                f"trained {t['policy']}: promoted={t['promoted']} ({t['reason']})"
                if t["success"]
                else "train_policy FAILED (see `quant ui`)"
            ),
            highlight=False,
        )
    console.print(
        f"{report.runs} runs in {report.seconds:.0f}s on the local instance; "
        "`quant ui` shows them (and repeats none)",
        highlight=False,
    )


@main.command()
@click.option("--start", "start", default="2024-01-02", show_default=True, help="first day (UTC)")
@click.option("--days", default=4, show_default=True, help="number of consecutive days")
@click.option("--symbols", default="SYNA,SYNB,SYNC", show_default=True, help="synthetic symbols")
@click.option(
    "--vendor-files",
    default=str(SHARED_TICKS),
    show_default=True,
    help="directory of real vendor files to ingest through the landing zone ('' to skip)",
)
@click.option(
    "--train-symbol",
    default="SYNA",
    show_default=True,
    help="symbol to train, evaluate and gate a small policy for ('' to skip)",
)
@click.option("--allow-rejects", is_flag=True, help="exit 0 even when a vendor file was rejected")
@click.pass_context
def demo(
    ctx: click.Context,
    start: str,
    days: int,
    symbols: str,
    vendor_files: str,
    train_symbol: str,
    allow_rejects: bool,
) -> None:
    """The main job, through the local instance and its daemon (the runs `quant ui` shows)."""
    import dagster as dg

    from quant_assets.lib.settings import Settings
    from quant_assets.local_dagster import DagsterDev
    from quant_assets.main_job import run_main_job
    from resources.object_store import ObjectStoreResource

    verbose = ctx.obj["verbose"]
    home = _dagster_home()
    store = ObjectStoreResource.from_settings(Settings.from_env()).get_store()
    first = date.fromisoformat(start)
    log = home / "quant_logs" / "demo-dagster-dev.log"  # Dagster owns home/logs
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out, _Bars() as bars:
        dev = DagsterDev.start(
            {**os.environ, **DEMO_ENV},
            args=[] if verbose else ["--log-level", "warning"],
            output=None if verbose else out,
        )
        try:
            location = dev.wait_ready()
            report = run_main_job(
                dev,
                location,
                dg.DagsterInstance.get(),
                store,
                days=[first + timedelta(days=i) for i in range(days)],
                synthetic_symbols=[s.strip() for s in symbols.split(",") if s.strip()],
                vendor_files=_vendor_files(vendor_files),
                progress=bars.update,
                train_symbol=train_symbol or None,
            )
        finally:
            dev.stop()
    _summary(report, bars.console)
    if report.unexpected_failures:
        click.echo(f"failed: {', '.join(report.unexpected_failures)} (log: {log})", err=True)
    if report.unexpected_failures or (report.rejected and not allow_rejects):
        sys.exit(1)


def _vendor_files(option: str) -> list[tuple[Path, str]]:
    """'' (or blanks) skips vendor files; a missing path is an error, not a silent skip."""
    if not option.strip():
        return []
    path = Path(option)
    if not path.exists():
        if path == SHARED_TICKS:  # the default samples are optional
            click.echo(f"skipped the real vendor samples: {SHARED_TICKS} is absent")
            return []
        raise click.BadParameter(f"{option} does not exist", param_hint="--vendor-files")
    return _expand((path,))


@main.command("train-smoke")
@click.option("--steps", default=10, show_default=True, help="PPO timesteps")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.pass_context
def train_smoke(ctx: click.Context, steps: int, device: str) -> None:
    """Train a tiny PPO policy on synthetic bars: proves torch, SB3 and the env in this image."""
    import tempfile

    from quant_assets.lib.trading import random_walk_bars
    from quant_assets.lib.training import TrainingConfig, train_policy
    from quant_assets.lib.training.progress import ProgressCallback

    config = TrainingConfig(
        total_timesteps=steps,
        n_envs=2,
        device=device,  # type: ignore[arg-type]
        hyperparams={"n_steps": max(steps // 2, 2), "batch_size": max(steps // 2, 2)},
    )
    show = ctx.obj["verbose"] or sys.stdout.isatty()  # quiet in pipes and logs, as `demo`
    with tempfile.TemporaryDirectory() as tmp, _Bars(enabled=show) as bars:
        result = train_policy(
            random_walk_bars(2_000, seed=0),
            config,
            out_dir=Path(tmp),
            run_id="train-smoke",
            callbacks=[ProgressCallback(bars.training, steps, min_interval_s=0.2)],
        )
    click.echo(
        f"trained {result.num_timesteps} steps on {result.device} at {result.fps:.0f} fps; "
        f"validation reward {result.metrics.get('validation/ep_reward', float('nan')):.4f}"
    )


UI_HELP = """Usage: quant ui [DAGSTER DEV OPTIONS]

  `dagster dev` (webserver + daemon) on this project's code location ([tool.dg] in
  pyproject.toml) and the same local instance as `quant demo`. Every option below is passed
  through to `dagster dev`; Dagster logs at WARNING unless you pass --log-level (or quant -v).
  Ctrl-C stops it and every process it started (code servers, run workers) within 10 s.
  It also starts the report server (`quant reports`, stored tear sheets over HTTP) on a free
  port and links reports there, unless QUANT_REPORTS_URL names a server already.

"""


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
    help="`dagster dev` on this project (its options pass through; see `quant ui --help`).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ui(ctx: click.Context, args: tuple[str, ...]) -> None:
    from quant_assets.local_dagster import dagster_dev_command, stop_session

    if "--help" in args:
        click.echo(UI_HELP + "Options of `dagster dev`:")
        dev_help = subprocess.run(
            dagster_dev_command(["--help"]), capture_output=True, text=True, check=False
        ).stdout
        click.echo(dev_help.split("Options:", 1)[-1].rstrip())
        return
    _dagster_home()
    extra = [] if ctx.obj["verbose"] or "--log-level" in args else ["--log-level", "warning"]
    port = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-p", "--port")), "3000")
    reports = _start_report_server()
    process = subprocess.Popen(dagster_dev_command([*args, *extra]), start_new_session=True)
    click.echo(f"Dagster UI: http://127.0.0.1:{port} (Ctrl-C stops it and all it started)")
    if reports is not None:
        click.echo(f"Reports: {os.environ['QUANT_REPORTS_URL']}")
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while process.poll() is None and not stopping:
        try:
            process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
    left = stop_session(process)
    if reports is not None:
        _stop_child(reports)
    if left:
        click.echo(f"still running after stop: {left}", err=True)
        sys.exit(1)
    sys.exit(0 if stopping or process.returncode in (0, None) else process.returncode)


def _start_report_server() -> subprocess.Popen[bytes] | None:
    """The report server as a child of `quant ui`, unless QUANT_REPORTS_URL names one already;
    the URL goes to the webserver's environment so the `episodes` asset links reports there."""
    from quant_assets.local_dagster import free_port

    if os.environ.get("QUANT_REPORTS_URL"):
        return None
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "quant_assets.cli", "reports", "--port", str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ["QUANT_REPORTS_URL"] = f"http://127.0.0.1:{port}"
    return child


def _stop_child(child: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    child.terminate()
    try:
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3070, show_default=True, type=int)
def reports(host: str, port: int) -> None:
    """Serve the stored tear sheets (evaluations/<SYMBOL>/<id>/report.html) over HTTP."""
    from quant_assets.lib.evaluation.report_server import make_server
    from quant_assets.lib.settings import Settings
    from resources.object_store import ObjectStoreResource

    store = ObjectStoreResource.from_settings(Settings.from_env()).get_store()
    server = make_server(store, host, port)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"reports: http://{bound_host!s}:{bound_port} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _register_ops_commands() -> None:
    from quant_assets import deploy_cli, stack_cli

    deploy_cli.register(main)
    stack_cli.register(main)


_register_ops_commands()

if __name__ == "__main__":
    main()
