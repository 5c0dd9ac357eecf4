"""JSON lines, optionally after whitespace-separated prefix fields (websocket recorders write a
local receive time, then the exchange's message), read into text columns.

Numbers are kept as their JSON text (``parse_float=str``), so a 19-digit nanosecond time or a
decimal price is converted once, exactly, by the same code as CSV text. Mixed message types in
one file are normal: a path missing from a line is null, not an error. Files are read in
chunks of whole lines (:func:`iter_jsonl`), so memory follows the chunk, not the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from quant_assets.lib.ticks.adapters.errors import MalformedFileError


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _lookup(obj: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            return None
    return obj


JSONL_CHUNK_BYTES = 8 << 20  # text parsed per record batch


def read_jsonl(
    path: Path, prefix: list[str], wanted: list[str]
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """Text columns ``wanted`` (prefix names or dotted JSON paths) and each row's file line."""
    tables, lines = [], []
    for table, rows in iter_jsonl(path, prefix, wanted):
        tables.append(table)
        lines.append(rows)
    if not tables:
        return pa.table({w: pa.array([], pa.string()) for w in wanted}), np.zeros(0, np.int64)
    return pa.concat_tables(tables), np.concatenate(lines)


def iter_jsonl(
    path: Path, prefix: list[str], wanted: list[str], chunk_bytes: int = JSONL_CHUNK_BYTES
) -> Iterator[tuple[pa.Table, npt.NDArray[np.int64]]]:
    """:func:`read_jsonl` in record batches of about ``chunk_bytes`` of text (whole lines), so
    memory follows the batch, not the file."""
    parser = _LineParser(path, prefix, wanted)
    first_line = 1
    rest = b""
    with pa.input_stream(str(path), compression="detect") as stream:
        while True:
            chunk = stream.read(chunk_bytes)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one line longer than the chunk: read on
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            if data:
                batch = parser.parse(data, first_line)
                if batch[0].num_rows:
                    yield batch
                first_line += data.count(b"\n")
            if not chunk:
                return


class _LineParser:
    def __init__(self, path: Path, prefix: list[str], wanted: list[str]) -> None:
        self.path = path
        self.prefix = prefix
        self.wanted = wanted
        self.paths = {w: w.split(".") for w in wanted if w not in prefix}
        self.slots = {name: i for i, name in enumerate(prefix)}

    def parse(self, data: bytes, first_line: int) -> tuple[pa.Table, npt.NDArray[np.int64]]:
        """Whole lines of text starting at file line ``first_line``."""
        path, prefix = self.path, self.prefix
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = first_line + data[: exc.start].count(b"\n")
            raise MalformedFileError(path, f"not UTF-8 text: {exc.reason}", line=bad) from exc
        columns: dict[str, list[str | None]] = {w: [] for w in self.wanted}
        lines: list[int] = []
        for lineno, line in enumerate(text.split("\n"), start=first_line):
            if not line.strip():
                continue
            parts = line.split(None, len(prefix)) if prefix else [line]
            if len(parts) != len(prefix) + 1:
                raise MalformedFileError(
                    path,
                    f"expected {len(prefix)} prefix fields {prefix} before the JSON object",
                    line=lineno,
                )
            try:
                obj = json.loads(parts[-1], parse_float=str, parse_int=str)
            except json.JSONDecodeError as exc:
                raise MalformedFileError(
                    path, f"invalid JSON: {exc.msg} (char {exc.colno})", line=lineno
                ) from exc
            if not isinstance(obj, dict):
                raise MalformedFileError(path, "expected a JSON object", line=lineno)
            for w in self.wanted:
                if w in self.slots:
                    columns[w].append(parts[self.slots[w]])
                else:
                    columns[w].append(_text(_lookup(obj, self.paths[w])))
            lines.append(lineno)
        table = pa.table({w: pa.array(v, pa.string()) for w, v in columns.items()})
        return table, np.asarray(lines, dtype=np.int64)
