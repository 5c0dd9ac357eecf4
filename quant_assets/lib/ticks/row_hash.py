"""Process-independent 64-bit row hashes: exact-duplicate detection and content versions.

Python's ``hash`` is salted per process, so strings are hashed with blake2b (once per distinct
value) and every column is mixed in splitmix64 style; a table's rows hash equal across runs.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.vendor_rules import contiguous


def _mix64(h: npt.NDArray[np.uint64], v: npt.NDArray[np.uint64]) -> None:
    """splitmix64-style mixing of ``v`` into ``h`` in place; uint64 arithmetic wraps by design."""
    h ^= v
    h *= np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(31)


def stable_hash64(text: str) -> int:
    """Process-independent 64-bit string hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def column_hash_values(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.uint64]:
    """One 64-bit value per element, mixed into :func:`row_hashes` (nulls distinct)."""
    chunked = contiguous(col)
    if pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type):
        enc = pc.dictionary_encode(chunked)
        values = pc.fill_null(enc.indices, -1).to_numpy().astype(np.int64)
        # Map indices to hashes of the dictionary strings so equal strings match
        # across columns regardless of dictionary order.
        dict_hashes = np.array(
            [stable_hash64(s) for s in enc.dictionary.to_pylist()] + [7], dtype=np.uint64
        )
        return dict_hashes[values]
    if pa.types.is_floating(chunked.type):
        return np.asarray(chunked.to_numpy(zero_copy_only=False), np.float64).view(np.uint64)
    arr = pc.fill_null(chunked.cast(pa.int64()), np.iinfo(np.int64).min)
    return arr.to_numpy().view(np.uint64)


def mix_column(h: npt.NDArray[np.uint64], col: pa.ChunkedArray | pa.Array) -> None:
    """Extend row hashes ``h`` in place by one more column (as if it were appended)."""
    with np.errstate(over="ignore"):
        _mix64(h, column_hash_values(col))


def row_hashes(table: pa.Table) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of every row over all columns (nulls hash distinctly from values)."""
    h = np.full(table.num_rows, 0x243F6A8885A308D3, dtype=np.uint64)
    for col in table.itercolumns():
        mix_column(h, col)
    return h
