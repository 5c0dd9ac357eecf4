"""Databento DBN files (``.dbn`` / ``.dbn.zst``, any DBN version) via ``databento-dbn``.

``databento-dbn`` has no ndarray/Arrow export, so the file is transcoded to CSV by its Rust
``Transcoder`` (raw fixed-point prices, integer ns timestamps, symbols mapped from the metadata)
and parsed with pyarrow.csv: no per-record Python, unlike iterating ``DBNDecoder`` records.

Mapping to canonical rows, by schema:

* ``trades``: one trade row per record.
* ``mbp-1``: a record with action ``T`` (trade) becomes a trade row; every other action (add,
  cancel, modify, clear, ...) becomes a quote row with the top of book *after* the event. A trade
  record carries the unchanged pre-trade book, already present as the previous quote row, so it is
  not repeated: rows == records.
* ``tbbo``: each record is a trade plus the BBO just before it, so it yields a quote row followed
  by a trade row with the same timestamps (rows == 2 x records); cleaning rules that compare a
  trade with the prevailing quote need no join.
* ``mbo`` (order-level) is rejected with :class:`UnsupportedFileError`: a top of book needs full
  book reconstruction; request ``mbp-1``/``tbbo``/``trades`` instead. Other schemas likewise.

Field conventions: prices are fixed-point 1e-9 and ``UNDEF_PRICE`` becomes null (one-sided book,
book clear), with the matching level size nulled too; ``UNDEF_TIMESTAMP`` becomes null
(``ts_event`` then falls back to ``ts_recv``). Trade ``side`` is the aggressor: Databento ``B`` ->
"B", ``A`` -> "S", ``N`` -> null. ``symbol`` comes from the metadata symbology (the requested
symbol), falling back to the instrument id. ``exchange`` is the DBN dataset (e.g. GLBX.MDP3).
``conditions`` lists meaningful record markers, comma separated: ``clear`` (action R),
``snapshot`` (F_SNAPSHOT), ``bad_ts_recv`` (F_BAD_TS_RECV), ``maybe_bad_book`` (F_MAYBE_BAD_BOOK).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from quant_assets.lib.ticks.adapters._convert import finalize
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnsupportedFileError
from quant_assets.lib.ticks.schema import TIMESTAMP, RecordType, empty_ticks

SOURCE = "databento"
SUPPORTED_SCHEMAS = ("trades", "mbp-1", "tbbo")
_CHUNK = 16 << 20  # bytes of records per batch (~3x that as CSV text, then Arrow)
_UNDEF_PRICE = int(dbn.UNDEF_PRICE)
_UNDEF_TS = int(dbn.UNDEF_TIMESTAMP)
_CONDITION_FLAGS: tuple[tuple[int, str], ...] = (
    (int(dbn.F_SNAPSHOT), "snapshot"),
    (int(dbn.F_BAD_TS_RECV), "bad_ts_recv"),
    (int(dbn.F_MAYBE_BAD_BOOK), "maybe_bad_book"),
)
_COLUMN_TYPES: dict[str, pa.DataType] = {
    "ts_recv": pa.uint64(),
    "ts_event": pa.uint64(),
    "instrument_id": pa.uint32(),
    "action": pa.string(),
    "side": pa.string(),
    "price": pa.int64(),
    "size": pa.int64(),
    "flags": pa.int64(),
    "sequence": pa.int64(),
    "bid_px_00": pa.int64(),
    "ask_px_00": pa.int64(),
    "bid_sz_00": pa.int64(),
    "ask_sz_00": pa.int64(),
    "symbol": pa.string(),
}


def is_dbn_file(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith((".dbn", ".dbn.zst"))


def _read(stream: pa.NativeFile, p: Path, n: int) -> bytes:
    try:
        return bytes(stream.read(n))
    except OSError as exc:
        raise MalformedFileError(p, f"corrupt or truncated zstd stream: {exc}") from exc


def _open(p: Path) -> pa.NativeFile:
    compression = "zstd" if p.name.lower().endswith(".zst") else None
    return pa.input_stream(str(p), compression=compression)


def _metadata(p: Path, stream: pa.NativeFile) -> tuple[dbn.Metadata, bytes]:
    """Decode only the metadata header (decoding all records into Python objects is slow);
    returns it with its bytes (the transcoder needs them first)."""
    head = _read(stream, p, 8)
    if len(head) < 8 or head[:3] != b"DBN":
        raise MalformedFileError(p, "not a DBN file (missing 'DBN' signature)")
    end = 8 + int.from_bytes(head[4:8], "little")
    head += _read(stream, p, end - 8)
    if len(head) < end:
        raise MalformedFileError(
            p, f"truncated DBN metadata: header declares {end} bytes, file has {len(head)}"
        )
    decoder = dbn.DBNDecoder()
    try:
        decoder.write(head)
        decoded = decoder.decode()
    except (dbn.DBNError, ValueError) as exc:
        raise MalformedFileError(p, f"corrupt DBN metadata: {exc}") from exc
    if not decoded or not isinstance(decoded[0], dbn.Metadata):
        raise MalformedFileError(p, "corrupt DBN metadata")
    return decoded[0], head


def _walk_records(p: Path, start: int) -> int:
    """Count records by walking their headers (error path only: mixed record sizes or a
    trailing partial record, which the decoder silently drops)."""
    with _open(p) as stream:
        _read(stream, p, start)
        n, skip, length = 0, 0, 0
        while chunk := _read(stream, p, _CHUNK):
            pos = skip
            while pos < len(chunk):
                length = chunk[pos] * 4
                if length == 0:
                    raise MalformedFileError(
                        p, "corrupt DBN record header (length 0)", line=n + 1, kind="record"
                    )
                pos += length
                n += 1
            skip = pos - len(chunk)
        if skip:
            raise MalformedFileError(
                p,
                f"truncated DBN file: record {n} needs {length} bytes, only {length - skip} left",
                line=n,
                kind="record",
            )
    return n


class _Transcoded:
    """DBN records in, canonical-ready Arrow tables out, a chunk of bytes at a time: the Rust
    transcoder keeps a partial record until its rest arrives."""

    def __init__(self, p: Path, head: bytes) -> None:
        self.p, self.out = p, io.BytesIO()
        self.header: list[str] | None = None
        self.carry = b""
        try:
            self.transcoder = dbn.Transcoder(
                self.out,
                dbn.Encoding.CSV,  # type: ignore[arg-type]  # stub types enums as str
                dbn.Compression.NONE,  # type: ignore[arg-type]
                pretty_px=False,
                pretty_ts=False,
                map_symbols=True,
            )
            self.transcoder.write(head)
        except (dbn.DBNError, ValueError) as exc:
            raise MalformedFileError(p, f"corrupt DBN records: {exc}") from exc

    def feed(self, data: bytes, last: bool = False) -> pa.Table | None:
        try:
            if data:
                self.transcoder.write(data)
            self.transcoder.flush()
        except (dbn.DBNError, ValueError) as exc:
            raise MalformedFileError(self.p, f"corrupt DBN records: {exc}") from exc
        text = self.carry + self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        cut = len(text) if last else text.rfind(b"\n") + 1
        text, self.carry = text[:cut], text[cut:]
        if self.header is None and b"\n" in text:
            first = text.index(b"\n")
            self.header = text[:first].decode().split(",")
            text = text[first + 1 :]
        if not text.strip() or self.header is None:
            return None
        types = {k: v for k, v in _COLUMN_TYPES.items() if k in self.header}
        try:
            return pacsv.read_csv(
                pa.BufferReader(text),
                read_options=pacsv.ReadOptions(column_names=self.header),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=list(types), strings_can_be_null=True
                ),
            )
        except pa.ArrowInvalid as exc:  # pragma: no cover - the transcoder writes valid CSV
            raise MalformedFileError(self.p, f"could not parse transcoded DBN: {exc}") from exc


def _ns(col: pa.ChunkedArray) -> pa.Array:
    undefined = pc.equal(col, pa.scalar(_UNDEF_TS, pa.uint64()))
    return pc.cast(pc.cast(pc.if_else(undefined, None, col), pa.int64()), TIMESTAMP)


def _px(col: pa.ChunkedArray) -> pa.Array:
    undefined = pc.equal(col, _UNDEF_PRICE)
    return pc.divide(pc.cast(pc.if_else(undefined, None, col), pa.float64()), 1e9)


def _level_size(size: pa.ChunkedArray, price: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_null(price), None, pc.cast(size, pa.float64()))


def _conditions(t: pa.Table) -> pa.Array:
    # Few distinct (action, flags) combos: label each once and gather (pc.binary_join_element_wise
    # with null_handling="skip" drops all-null rows in pyarrow 26, so it is not used here).
    clear = pc.equal(t.column("action"), "R").to_numpy(zero_copy_only=False)
    flags = t.column("flags").to_numpy()
    key = flags.astype(np.int64) * 2 + clear
    uniq, inverse = np.unique(key, return_inverse=True)
    labels: list[str | None] = []
    for k in uniq.tolist():
        names = ["clear"] if k & 1 else []
        names += [name for bit, name in _CONDITION_FLAGS if (k >> 1) & bit]
        labels.append(",".join(names) or None)
    return pc.take(pa.array(labels, pa.string()), pa.array(inverse.ravel()))


def read_dbn(path: str | Path) -> pa.Table:
    """Canonical ticks from a DBN ``trades``, ``mbp-1`` or ``tbbo`` file (see module doc)."""
    tables = list(iter_dbn(path))
    return pa.concat_tables(tables) if tables else empty_ticks()


def iter_dbn(path: str | Path, chunk_bytes: int = _CHUNK) -> Iterator[pa.Table]:
    """:func:`read_dbn` in batches of about ``chunk_bytes`` of records, in file order: memory
    follows the chunk, not the file. A count mismatch or a trailing partial record is raised
    after the last batch (landing stages nothing from a file that fails)."""
    p = Path(path)
    with _open(p) as stream:
        metadata, head = _metadata(p, stream)
        schema = None if metadata.schema is None else str(metadata.schema)
        if schema == "mbo":
            raise UnsupportedFileError(
                p,
                "DBN schema 'mbo' (market by order) is not supported: a top of book needs "
                "order-book reconstruction; use mbp-1, tbbo or trades files",
            )
        if schema not in SUPPORTED_SCHEMAS:
            raise UnsupportedFileError(
                p, f"DBN schema {schema!r} is not supported; supported: {list(SUPPORTED_SCHEMAS)}"
            )
        transcoded = _Transcoded(p, head)
        body = decoded = 0
        record_size = 0
        while True:
            data = _read(stream, p, chunk_bytes)
            if data and not record_size:
                record_size = data[0] * 4
                if record_size == 0:
                    raise MalformedFileError(
                        p, "corrupt DBN record header (length 0)", line=1, kind="record"
                    )
            body += len(data)
            t = transcoded.feed(data, last=not data)
            if t is not None and t.num_rows:
                yield _canonical(p, t, metadata, schema, decoded)
                decoded += t.num_rows
            if not data:
                break
    n_records = body // record_size if record_size and body % record_size == 0 else None
    if n_records is None and body:
        n_records = _walk_records(p, len(head))
    if decoded != (n_records or 0):
        raise MalformedFileError(
            p, f"decoded {decoded} records, file holds {n_records}", kind="record"
        )


def _canonical(
    p: Path, t: pa.Table, metadata: dbn.Metadata, schema: str, first_record: int
) -> pa.Table:
    """Canonical rows of transcoded records ``first_record`` onward (see module doc)."""
    n = t.num_rows
    ts_recv = _ns(t.column("ts_recv"))
    ts_event = pc.coalesce(_ns(t.column("ts_event")), ts_recv)
    if ts_event.null_count:
        first = int(np.flatnonzero(pc.is_null(ts_event).to_numpy(zero_copy_only=False))[0])
        raise MalformedFileError(
            p,
            "record has neither ts_event nor ts_recv",
            line=first_record + first + 1,
            column="ts_event",
            kind="record",
        )
    symbol = t.column("symbol")
    symbol = pc.if_else(
        pc.or_(pc.is_null(symbol), pc.equal(symbol, "")),
        pc.cast(t.column("instrument_id"), pa.string()),
        symbol,
    )
    side = pc.take(
        pa.array(["S", "B", None], pa.string()),
        pc.index_in(t.column("side"), value_set=pa.array(["A", "B"])),
    )
    common = {
        "ts_event": ts_event,
        "ts_recv": ts_recv,
        "symbol": symbol,
        "exchange": pa.repeat(pa.scalar(metadata.dataset, pa.string()), n),
        "conditions": _conditions(t),
        "sequence": t.column("sequence"),
        "source": pa.repeat(pa.scalar(SOURCE, pa.string()), n),
    }
    trades = pa.table(
        {
            **common,
            "record_type": pa.repeat(pa.scalar(RecordType.TRADE.value, pa.string()), n),
            "price": _px(t.column("price")),
            "size": pc.cast(t.column("size"), pa.float64()),
            "side": side,
        }
    )
    if schema == "trades":
        return finalize(trades)

    bid, ask = _px(t.column("bid_px_00")), _px(t.column("ask_px_00"))
    quotes = pa.table(
        {
            **common,
            "record_type": pa.repeat(pa.scalar(RecordType.QUOTE.value, pa.string()), n),
            "bid_price": bid,
            "bid_size": _level_size(t.column("bid_sz_00"), bid),
            "ask_price": ask,
            "ask_size": _level_size(t.column("ask_sz_00"), ask),
        }
    )
    both = pa.concat_tables([quotes, trades], promote_options="default")
    idx = np.arange(n, dtype=np.int64)
    if schema == "tbbo":
        order = np.column_stack([idx, idx + n]).ravel()  # quote_i, trade_i, quote_i+1, ...
    else:  # mbp-1: the trade view for trade actions, the book view otherwise
        is_trade = pc.equal(t.column("action"), "T").to_numpy(zero_copy_only=False)
        order = np.where(is_trade, idx + n, idx)
    return finalize(both.take(pa.array(order)))
