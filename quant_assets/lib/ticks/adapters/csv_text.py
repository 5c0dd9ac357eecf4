"""CSV vendor files read as text columns with Arrow, with honest errors.

Every wanted column is read as text and converted column-wise later (``mapped_convert``), so a
bad value is reported with its file line and column; a row with the wrong number of fields is
named with its line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from quant_assets.lib.ticks.adapters.containers import COMPRESSED, explain_read_error
from quant_assets.lib.ticks.adapters.errors import MalformedFileError
from quant_assets.lib.ticks.adapters.located import text_lines
from quant_assets.lib.ticks.adapters.mapping import VendorMapping

CSV_BLOCK = 1 << 24  # 16 MiB: the longest line Arrow's CSV reader accepts


def skip_invalid_row(row: Any) -> str:
    return "skip"  # only the header matters here; bad rows are reported by the full read


HEADER_BLOCK = 1 << 16  # enough for a header; Arrow infers types over the whole first block


def csv_names(path: Path, m: VendorMapping) -> list[str]:
    """Column names, from a small first block (a 16 MiB one costs a second of type inference);
    a header or first row longer than that is read again with the full block."""
    compressed = path.suffix.lower() in COMPRESSED  # the full block finds a truncated stream
    for block in (CSV_BLOCK,) if compressed else (HEADER_BLOCK, CSV_BLOCK):
        read = pacsv.ReadOptions(
            skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header, block_size=block
        )
        parse = pacsv.ParseOptions(
            delimiter=m.csv.delimiter,
            quote_char=m.csv.quote_char,
            invalid_row_handler=skip_invalid_row,
        )
        try:
            with pacsv.open_csv(
                head(path, block), read_options=read, parse_options=parse
            ) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            if block == CSV_BLOCK:
                raise MalformedFileError(
                    path, f"not a readable CSV file: {explain_read_error(path, exc, CSV_BLOCK)}"
                ) from exc
    raise AssertionError("unreachable")


def _find_line(path: Path, text: str) -> int | None:
    for lineno, line in enumerate(text_lines(path), start=1):
        if line == text:
            return lineno
    return None


def csv_options(
    m: VendorMapping,
    wanted: list[str],
    on_invalid: Callable[[Any], str],
    block_size: int = CSV_BLOCK,
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """Every wanted column as text (converted column-wise later, with file positions)."""
    read = pacsv.ReadOptions(
        skip_rows=m.csv.skip_rows, autogenerate_column_names=not m.csv.header, block_size=block_size
    )
    parse = pacsv.ParseOptions(
        delimiter=m.csv.delimiter, quote_char=m.csv.quote_char, invalid_row_handler=on_invalid
    )
    convert = pacsv.ConvertOptions(
        include_columns=wanted,
        column_types=dict.fromkeys(wanted, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    return read, parse, convert


def head(path: Path, size: int) -> pa.BufferReader:
    """The first ``size`` bytes of the (possibly compressed) text, cut after its last line break
    (all of it when there is none): enough for a header. Arrow's CSV reader given the file
    itself reads the whole file ahead while we look at its first line."""
    with pa.input_stream(str(path), compression="detect") as stream:
        data = stream.read(size)
    if len(data) < size:  # the whole file
        return pa.BufferReader(pa.py_buffer(data))
    cut = data.rfind(b"\n") + 1
    if cut == 0:  # Arrow's words, which explain_read_error recognises
        raise pa.ArrowInvalid(f"CSV parse error: a row straddles the {size}-byte block")
    return pa.BufferReader(pa.py_buffer(data[:cut]))


class InvalidRows:
    """Collects the rows Arrow's CSV parser rejects, to name the first in the error."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, str]] = []

    def __call__(self, row: Any) -> str:
        self.rows.append((row.expected_columns, row.actual_columns, row.text))
        return "error"

    def error(self, path: Path, exc: BaseException) -> MalformedFileError:
        if self.rows:
            expected, actual, text = self.rows[0]
            return MalformedFileError(
                path,
                f"expected {expected} fields, found {actual}: {text[:200]!r}",
                line=_find_line(path, text),
            )
        return MalformedFileError(
            path, f"could not read CSV: {explain_read_error(path, exc, CSV_BLOCK)}"
        )


def read_csv_text(path: Path, m: VendorMapping, wanted: list[str]) -> pa.Table:
    invalid = InvalidRows()
    read, parse, convert = csv_options(m, wanted, invalid)
    try:
        return pacsv.read_csv(
            str(path), read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise invalid.error(path, exc) from exc
