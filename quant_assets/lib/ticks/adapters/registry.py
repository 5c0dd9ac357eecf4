"""One entry point for every vendor file: ``read_vendor_file`` and ``detect_source``.

The landing-zone sensor only knows a path; ``detect_source`` names the adapter from extension and
header so new vendors need a mapping file, not a code change. Zip archives are opened here for
every adapter, so errors name ``archive.zip!member``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from quant_assets.lib.ticks.adapters.containers import inner_name, is_zip, open_container
from quant_assets.lib.ticks.adapters.csv_text import CSV_BLOCK
from quant_assets.lib.ticks.adapters.dbn import SOURCE as DATABENTO
from quant_assets.lib.ticks.adapters.dbn import is_dbn_file, iter_dbn, read_dbn
from quant_assets.lib.ticks.adapters.detection import match_mapping, read_header
from quant_assets.lib.ticks.adapters.errors import (
    MalformedFileError,
    UnknownSourceError,
    relocated,
)
from quant_assets.lib.ticks.adapters.mapped_reader import VendorRead, read_mapped_report
from quant_assets.lib.ticks.adapters.mapping import available_mappings, load_mapping
from quant_assets.lib.ticks.adapters.streaming import iter_mapped_reads
from quant_assets.lib.ticks.adapters.tardis import SOURCE as TARDIS
from quant_assets.lib.ticks.adapters.tardis import (
    is_tardis_header,
    read_tardis,
    tardis_file_mapping,
)

_TEXT = (".csv", ".txt")
_COLUMNAR = (".parquet", ".pq")


def sources() -> list[str]:
    """Every valid ``source`` for :func:`read_vendor_file`."""
    return [DATABENTO, TARDIS, *available_mappings()]


def read_vendor_report(path: str | Path, source: str, *, symbol: str | None = None) -> VendorRead:
    """Canonical ticks (``schema.conform``-ed, in the vendor's row order) from one vendor file,
    with the rows a mapping's row filter skipped.

    ``source`` is ``"databento"``, ``"tardis"``, a mapping name or a mapping file path.
    ``symbol`` overrides the symbol of mapping-driven sources (files without a symbol column).
    Bad content raises :class:`MalformedFileError` naming file, line/row and column.
    """
    p = Path(path)
    if source not in (DATABENTO, TARDIS):
        return read_mapped_report(p, load_mapping(source), symbol=symbol)
    with open_container(p) as opened:
        try:
            table = read_dbn(opened.path) if source == DATABENTO else read_tardis(opened.path)
        except MalformedFileError as exc:
            raise relocated(exc, str(opened.path), opened.display) from exc
    return VendorRead(table=table, rows_read=table.num_rows, skipped=0)


def iter_vendor_reads(
    path: str | Path,
    source: str,
    *,
    symbol: str | None = None,
    narrow: bool = False,
    block_size: int = CSV_BLOCK,
) -> Iterator[VendorRead]:
    """:func:`read_vendor_report` in record batches, in file order: mapped CSV, JSON-lines and
    Parquet files, Tardis CSVs (a mapping chosen from the header) and Databento DBN (16 MiB of
    records a batch) all stream, so memory follows the batch. ``narrow``: mapped batches may
    leave out canonical columns the mapping never fills."""
    if source == DATABENTO:
        with open_container(Path(path)) as opened:
            try:
                for table in iter_dbn(opened.path):
                    yield VendorRead(table=table, rows_read=table.num_rows, skipped=0)
            except MalformedFileError as exc:
                raise relocated(exc, str(opened.path), opened.display) from exc
        return
    if source != TARDIS:
        mapping = load_mapping(source)
        yield from iter_mapped_reads(
            path, mapping, symbol=symbol, narrow=narrow, block_size=block_size
        )
        return
    with open_container(Path(path)) as opened:  # a zip member is extracted once, not twice
        try:
            yield from iter_mapped_reads(
                opened.path,
                tardis_file_mapping(opened.path),
                symbol=symbol,
                narrow=narrow,
                block_size=block_size,
            )
        except MalformedFileError as exc:
            raise relocated(exc, str(opened.path), opened.display) from exc


def read_vendor_file(path: str | Path, source: str, *, symbol: str | None = None) -> pa.Table:
    """Canonical ticks only (see :func:`read_vendor_report`)."""
    return read_vendor_report(path, source, symbol=symbol).table


def detect_source(path: str | Path) -> str:
    """Guess the ``source`` of a landing-zone file: ``*.dbn``/``*.dbn.zst`` -> databento; a CSV
    whose header has Tardis' exchange/symbol/timestamp/local_timestamp -> tardis; otherwise the
    mapping whose columns all appear in the header (most columns wins). A file whose header
    cannot be read raises :class:`MalformedFileError` saying why (truncated stream, ...)."""
    p = Path(path)
    if not is_zip(p):
        return _detect(p, str(p))
    with open_container(p) as opened:
        try:
            return _detect(opened.path, opened.display)
        except MalformedFileError as exc:
            raise relocated(exc, str(opened.path), opened.display) from exc


def _detect(p: Path, display: str) -> str:
    if is_dbn_file(p):
        return DATABENTO
    name = inner_name(p).lower()
    if not name.endswith(_TEXT + _COLUMNAR):
        raise UnknownSourceError(
            f"{display}: unknown file type; expected .dbn[.zst], .csv[.gz|.zst], .parquet or "
            "a zip of one of them (JSON lines need an explicit source folder)"
        )
    names = read_header(p)
    if not name.endswith(_COLUMNAR) and is_tardis_header(names):
        return TARDIS
    found = match_mapping(p, names)
    if found is None:
        raise UnknownSourceError(
            f"{display}: no adapter recognises the header {names[:12]}; land it under a "
            f"source folder naming its mapping ({sources()})"
        )
    return found
