"""``quant mapping check FILE --source NAME``: try a vendor file against a mapping, landing
nothing. Prints the first rows, the partitions and symbols the file would create, the rows a
row filter skips, and every error (all of a mapping's validation errors, or the file's first
bad value with its line and column). The file is read in record batches and only counts and the
first rows are kept, so a file of many GB is checked in bounded memory."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path

import click


@click.group()
def mapping() -> None:
    """Vendor mappings (QUANT_MAPPINGS_DIR and the packaged ones)."""


@mapping.command("list")
def list_mappings() -> None:
    """Every mapping name and the file it comes from."""
    from quant_assets.lib.ticks.adapters.mapping import mapping_files

    for name, path in mapping_files().items():
        click.echo(f"{name:<24} {path}")


@mapping.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default="auto",
    show_default=True,
    help="mapping name, mapping file, databento, tardis, or auto (detect)",
)
@click.option("--rows", default=5, show_default=True, help="rows to print")
def check(file: Path, source: str, rows: int) -> None:
    """Parse FILE as the landing zone would, without landing it (batch by batch: memory
    follows the batch, whatever the file size)."""
    from quant_assets.lib.ticks.adapters import detect_source, iter_vendor_reads
    from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnknownSourceError
    from quant_assets.lib.ticks.batch_split import partition_rows
    from quant_assets.lib.ticks.instruments import InvalidSymbolError
    from quant_assets.lib.ticks.landing import normalize_symbols

    parsed = read = skipped = 0
    parts: Counter[tuple[date, str]] = Counter()
    shown: list[dict[str, object]] = []
    try:
        name = detect_source(file) if source == "auto" else source
        for batch in iter_vendor_reads(file, name):
            parsed += batch.table.num_rows
            read += batch.rows_read
            skipped += batch.skipped
            parts.update(partition_rows(batch.table))
            if len(shown) < rows:
                head = normalize_symbols(batch.table.slice(0, rows - len(shown)))
                shown.extend(head.to_pylist())
    except (MalformedFileError, UnknownSourceError, InvalidSymbolError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)  # a mapping's validation lists every error
        sys.exit(1)
    click.echo(f"source: {name}")
    click.echo(f"rows: {parsed} parsed of {read} read, {skipped} skipped")
    symbols = sorted({s for _, s in parts})
    click.echo(f"symbols: {', '.join(symbols) or '-'}")
    click.echo("partitions:")
    for (day, symbol), count in sorted(parts.items()):
        click.echo(f"  {day.isoformat()}|{symbol}  {count} rows")
    if shown:
        click.echo(f"first {len(shown)} rows:")
        for row in shown:
            click.echo("  " + ", ".join(f"{k}={v}" for k, v in row.items() if v is not None))
