"""JSON lines, optionally after whitespace-separated prefix fields (websocket recorders write a
local receive time, then the exchange's message), read into text columns.

Numbers are kept as their JSON text (``parse_float=str``), so a 19-digit nanosecond time or a
decimal price is converted once, exactly, by the same code as CSV text. Mixed message types in
one file are normal: a path missing from a line is null, not an error.
"""

from __future__ import annotations

import json
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


def read_jsonl(
    path: Path, prefix: list[str], wanted: list[str]
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """Text columns ``wanted`` (prefix names or dotted JSON paths) and each row's file line."""
    with pa.input_stream(str(path), compression="detect") as stream:
        data = stream.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MalformedFileError(path, f"not UTF-8 text: {exc.reason}", line=line) from exc
    paths = {w: w.split(".") for w in wanted if w not in prefix}
    slots = {name: i for i, name in enumerate(prefix)}
    columns: dict[str, list[str | None]] = {w: [] for w in wanted}
    lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
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
        for w in wanted:
            if w in slots:
                columns[w].append(parts[slots[w]])
            else:
                columns[w].append(_text(_lookup(obj, paths[w])))
        lines.append(lineno)
    table = pa.table({w: pa.array(v, pa.string()) for w, v in columns.items()})
    return table, np.asarray(lines, dtype=np.int64)
