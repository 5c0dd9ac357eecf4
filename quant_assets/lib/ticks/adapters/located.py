"""Where a row of a read came from: the file line (CSV, JSON lines) or row (Parquet) users see.

The readers work on 0-based rows of a (possibly filtered) record batch; errors must name the
file's own position, so the row is mapped back through the rows a filter kept and the batch's
offset in the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from quant_assets.lib.ticks.adapters._convert import ConversionError
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.mapping import VendorMapping


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a (possibly compressed) text file, one at a time (error paths walk vendor
    files of many GB: never read them whole)."""
    with pa.input_stream(str(path), compression="detect") as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)
        for line in text:
            yield line.rstrip("\n")


class Located:
    """Turns a 0-based row index of the read table into the position users see."""

    def __init__(
        self, path: Path, mapping: VendorMapping, lines: npt.NDArray[np.int64] | None = None
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.lines = lines  # physical line of each row (JSON lines)
        self.kept: npt.NDArray[np.int64] | None = None  # original row of each kept row
        self.offset = 0  # rows of the file before this table (a record batch of a stream)

    def where(self, row: int | None) -> tuple[int | None, str]:
        if row is None:
            return None, "line"
        if self.kept is not None:
            row = int(self.kept[row])
        row += self.offset
        if self.lines is not None:
            return int(self.lines[row]), "line"
        if self.mapping.format == "parquet":
            return row + 1, "row"
        return self._csv_line(row), "line"

    def _csv_line(self, row: int) -> int | None:
        # Error path only: walk the file once so blank lines (skipped by Arrow) are counted.
        first_data = self.mapping.csv.skip_rows + (1 if self.mapping.csv.header else 0)
        seen = -1
        for lineno, line in enumerate(text_lines(self.path), start=1):
            if lineno <= first_data or not line.strip():
                continue
            seen += 1
            if seen == row:
                return lineno
        return None

    def error(self, exc: ConversionError, column: str | None) -> MalformedFileError:
        line, kind = self.where(exc.index)
        return MalformedFileError(self.path, exc.problem, line=line, column=column, kind=kind)
