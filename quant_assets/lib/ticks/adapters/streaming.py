"""Vendor files read in record batches, so memory follows the batch, not the file.

A CSV is cut into chunks of whole lines (``CSV_BLOCK`` of text) parsed one at a time by Arrow, a
Parquet file is read row group by row group, JSON lines a chunk of whole lines at a time; each
batch is converted by the same code as a whole-file read (:func:`mapped_convert.convert_raw`),
and its errors still name the file's line and column. A ``quote_book`` mapping carries each
quote side from batch to batch (:class:`book.QuoteBook`), so its quotes equal a whole-file read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quant_assets.lib.ticks.adapters._jsonl import iter_jsonl
from quant_assets.lib.ticks.adapters.book import QuoteBook
from quant_assets.lib.ticks.adapters.columns import column_refs, resolve_columns
from quant_assets.lib.ticks.adapters.containers import open_container
from quant_assets.lib.ticks.adapters.csv_text import CSV_BLOCK, InvalidRows, csv_names, csv_options
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, relocated
from quant_assets.lib.ticks.adapters.located import Located
from quant_assets.lib.ticks.adapters.mapped_convert import VendorRead, convert_raw
from quant_assets.lib.ticks.adapters.mapping import VendorMapping

PARQUET_BATCH_ROWS = 256_000


def iter_mapped_reads(
    path: str | Path,
    mapping: VendorMapping,
    *,
    symbol: str | None = None,
    block_size: int = CSV_BLOCK,
    narrow: bool = False,
) -> Iterator[VendorRead]:
    """Canonical ticks of one vendor file, batch by batch in file order (see the module doc);
    a CSV batch holds ``block_size`` bytes of text. ``narrow``: batches hold only the canonical
    columns the mapping fills (:func:`_convert.finalize`)."""
    p = Path(path)
    with open_container(p, mapping.member) as opened:
        try:
            yield from _batches(opened.path, mapping, symbol, block_size, narrow)
        except MalformedFileError as exc:
            raise relocated(exc, str(opened.path), opened.display) from exc


def _batches(
    p: Path, m: VendorMapping, symbol: str | None, block_size: int, narrow: bool
) -> Iterator[VendorRead]:
    book = None if m.quote_book == "none" else QuoteBook(by_venue=m.quote_book == "venue")
    for raw, resolved, loc in _raw_batches(p, m, block_size):
        read = convert_raw(p, m, raw, resolved, loc, symbol, narrow=narrow and book is None)
        if book is not None:
            read = VendorRead(book.apply(read.table), read.rows_read, read.skipped)
        yield read


def _raw_batches(
    p: Path, m: VendorMapping, block_size: int
) -> Iterator[tuple[pa.Table, dict[str, str], Located]]:
    """Vendor columns batch by batch, with the field → column map and where rows came from."""
    refs = column_refs(m)
    if m.format == "jsonl":
        positional = [r for r in refs.values() if isinstance(r, int)]
        if positional:
            raise MalformedFileError(p, f"JSON lines columns are names or paths, not {positional}")
        resolved = {f: str(r) for f, r in refs.items()}
        wanted = list(dict.fromkeys(resolved.values()))
        for table, lines in iter_jsonl(p, m.jsonl.prefix, wanted, chunk_bytes=block_size // 2):
            yield table, resolved, Located(p, m, lines)
        return
    resolved, wanted = resolve_columns(p, m, refs)
    if m.format == "csv":
        raw_batches = _csv_batches(p, m, wanted, block_size)
    else:
        raw_batches = _parquet_batches(p, wanted)
    offset = 0
    for batch in raw_batches:
        loc = Located(p, m)
        loc.offset = offset
        yield pa.Table.from_batches([batch]), resolved, loc
        offset += batch.num_rows


def _csv_batches(
    p: Path, m: VendorMapping, wanted: list[str], block_size: int
) -> Iterator[pa.RecordBatch]:
    """Arrow's streaming CSV reader reads the whole file ahead of its consumer (measured: a
    446 MB file held in memory after the first batch, with or without threads), so the text
    is cut here into chunks of whole lines (``block_size``, Arrow's own assumption: no line
    breaks inside values) and each chunk is parsed alone: one chunk in memory at a time."""
    invalid = InvalidRows()
    read, parse, convert = csv_options(m, wanted, invalid, block_size)
    later = pacsv.ReadOptions(column_names=csv_names(p, m), block_size=block_size)
    try:
        for i, chunk in enumerate(_line_chunks(p, block_size)):
            table = pacsv.read_csv(
                pa.BufferReader(chunk),
                read_options=read if i == 0 else later,
                parse_options=parse,
                convert_options=convert,
            )
            for batch in table.to_batches():
                if batch.num_rows:
                    yield batch
    except (pa.ArrowInvalid, OSError) as exc:
        raise invalid.error(p, exc) from exc


def _line_chunks(p: Path, size: int) -> Iterator[pa.Buffer]:
    """The (decompressed) text in chunks of about ``size`` bytes ending at a line break."""
    rest = b""
    with pa.input_stream(str(p), compression="detect") as stream:
        while data := stream.read(size):
            text = rest + data
            cut = text.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: a line longer than the chunk
                rest = text
                continue
            rest = text[cut:]
            yield pa.py_buffer(text[:cut])
    if rest:
        yield pa.py_buffer(rest)


def _parquet_batches(p: Path, wanted: list[str]) -> Iterator[pa.RecordBatch]:
    try:
        file = pq.ParquetFile(p)
        for batch in file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
            if batch.num_rows:
                yield batch
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedFileError(p, f"could not read Parquet: {exc}") from exc
