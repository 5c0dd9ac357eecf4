"""One entry point for every vendor file: ``read_vendor_file`` and ``detect_source``.

The landing-zone sensor only knows a path; ``detect_source`` names the adapter from extension and
header so new vendors need a mapping file, not a code change.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from quant_assets.lib.ticks.adapters.dbn import SOURCE as DATABENTO
from quant_assets.lib.ticks.adapters.dbn import is_dbn_file, read_dbn
from quant_assets.lib.ticks.adapters.errors import UnknownSourceError
from quant_assets.lib.ticks.adapters.mapping import (
    available_mappings,
    load_mapping,
    match_mapping,
    read_mapped,
)
from quant_assets.lib.ticks.adapters.tardis import SOURCE as TARDIS
from quant_assets.lib.ticks.adapters.tardis import is_tardis_file, read_tardis


def sources() -> list[str]:
    """Every valid ``source`` for :func:`read_vendor_file`."""
    return [DATABENTO, TARDIS, *available_mappings()]


def read_vendor_file(path: str | Path, source: str, *, symbol: str | None = None) -> pa.Table:
    """Canonical ticks (``schema.conform``-ed, in the vendor's row order) from one vendor file.

    ``source`` is ``"databento"``, ``"tardis"``, a shipped mapping name or a mapping file path.
    ``symbol`` overrides the symbol of mapping-driven sources (files without a symbol column).
    Bad content raises :class:`MalformedFileError` naming file, line/row and column.
    """
    p = Path(path)
    if source == DATABENTO:
        return read_dbn(p)
    if source == TARDIS:
        return read_tardis(p)
    return read_mapped(p, load_mapping(source), symbol=symbol)


def detect_source(path: str | Path) -> str:
    """Guess the ``source`` of a landing-zone file: ``*.dbn``/``*.dbn.zst`` -> databento; a CSV
    whose header has Tardis' exchange/symbol/timestamp/local_timestamp -> tardis; otherwise the
    shipped mapping whose columns all appear in the header (most columns wins)."""
    p = Path(path)
    if is_dbn_file(p):
        return DATABENTO
    name = p.name.lower()
    if not name.endswith((".csv", ".csv.gz", ".csv.zst", ".parquet", ".pq", ".txt")):
        raise UnknownSourceError(f"{p}: unknown file type; expected .dbn[.zst], .csv or .parquet")
    if not name.endswith((".parquet", ".pq")) and is_tardis_file(p):
        return TARDIS
    found = match_mapping(p)
    if found is None:
        raise UnknownSourceError(
            f"{p}: no adapter recognises this file; pass source= explicitly ({sources()})"
        )
    return found
