"""``quant``: the platform's command line (main job, landing files, the UI)."""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path

import click

from quant_assets.cli_mapping import mapping

DEFAULT_DAGSTER_HOME = ".quant/dagster_home"
SHARED_TICKS = Path("../shared/data/ticks")


def _dagster_home() -> Path:
    """Local runs keep Dagster's SQLite instance under .quant/ unless DAGSTER_HOME is set."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(DEFAULT_DAGSTER_HOME).absolute())))
    home.mkdir(parents=True, exist_ok=True)
    return home


@click.group()
def main() -> None:
    """quant-platform: tick lake → cleaning → costs → RL policies, on Dagster."""


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


@main.command()
@click.option("--start", "start", default="2024-01-02", show_default=True, help="first day (UTC)")
@click.option("--days", default=3, show_default=True, help="number of consecutive days")
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
def demo(
    start: str, days: int, symbols: str, vendor_files: str, train_symbol: str, allow_rejects: bool
) -> None:
    """The main job: synthetic and real vendor ticks → raw and clean partitions, with checks."""
    from quant_assets.main_job import run_main_job

    _dagster_home()
    first = date.fromisoformat(start)
    report = run_main_job(
        days=[first + timedelta(days=i) for i in range(days)],
        synthetic_symbols=[s.strip() for s in symbols.split(",") if s.strip()],
        vendor_files=_vendor_files(vendor_files),
        echo=click.echo,
        train_symbol=train_symbol or None,
    )
    click.echo(report.render())
    if report.unexpected_failures or (report.rejected and not allow_rejects):
        sys.exit(1)


def _vendor_files(option: str) -> list[tuple[Path, str]]:
    """'' (or blanks) skips vendor files; a missing path is an error, not a silent skip."""
    if not option.strip():
        return []
    path = Path(option)
    if not path.exists():
        if path == SHARED_TICKS:
            return []  # the default samples are optional
        raise click.BadParameter(f"{option} does not exist", param_hint="--vendor-files")
    return _expand((path,))


@main.command("train-smoke")
@click.option("--steps", default=10, show_default=True, help="PPO timesteps")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
def train_smoke(steps: int, device: str) -> None:
    """Train a tiny PPO policy on synthetic bars: proves torch, SB3 and the env in this image."""
    import tempfile

    from quant_assets.lib.trading import random_walk_bars
    from quant_assets.lib.training import TrainingConfig, train_policy

    config = TrainingConfig(
        total_timesteps=steps,
        n_envs=2,
        device=device,  # type: ignore[arg-type]
        hyperparams={"n_steps": max(steps // 2, 2), "batch_size": max(steps // 2, 2)},
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train_policy(
            random_walk_bars(2_000, seed=0), config, out_dir=Path(tmp), run_id="train-smoke"
        )
    click.echo(
        f"trained {result.num_timesteps} steps on {result.device} at {result.fps:.0f} fps; "
        f"validation reward {result.metrics.get('validation/ep_reward', float('nan')):.4f}"
    )


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ui(args: tuple[str, ...]) -> None:
    """Run `dagster dev` on this repo's workspace with the same instance as `quant demo`."""
    _dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-w", "workspace.yaml", *args])


if __name__ == "__main__":
    main()
