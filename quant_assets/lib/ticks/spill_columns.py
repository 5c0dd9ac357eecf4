"""Per-row arrays of a partition kept on local disk, and the exact statistics over them.

The bounded-memory build (:mod:`streaming_build`) keeps what its passes tell each other (reason
codes, row hashes, the quote mids the rolling rule reads) in flat files of one numpy dtype,
read and written by slices, so memory follows the window, not the partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SELECT_IN_MEMORY = 4_000_000  # values gathered for the final np.partition of a selection
_READ_CHUNK = 4_000_000


class SpillColumn:
    """An append-only array of one dtype in a local file, read and rewritten by slices."""

    def __init__(self, path: Path, dtype: npt.DTypeLike) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self._n = 0
        path.write_bytes(b"")

    def __len__(self) -> int:
        return self._n

    def append(self, values: npt.NDArray[np.generic]) -> None:
        with self.path.open("ab") as f:
            f.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self._n += int(values.size)

    def read(self, start: int, stop: int) -> npt.NDArray[Any]:
        start, stop = max(0, start), min(self._n, stop)
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        offset = start * self.dtype.itemsize
        return np.fromfile(self.path, dtype=self.dtype, count=stop - start, offset=offset)

    def write_at(self, start: int, values: npt.NDArray[np.generic]) -> None:
        with self.path.open("r+b") as f:
            f.seek(start * self.dtype.itemsize)
            f.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())

    def chunks(self, size: int = _READ_CHUNK) -> Iterator[npt.NDArray[Any]]:
        for start in range(0, self._n, size):
            yield self.read(start, start + size)


def _ordered_keys(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
    """uint64 keys ordered as the floats are (sign flipped; negatives bit-inverted)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))


def select_kth(column: SpillColumn, k: int) -> float:
    """The ``k``-th smallest value (0-based) of a float64 column, exactly, in bounded memory:
    a radix selection on the floats' ordered bits, 16 bits per pass over the file, until the
    values left fit in memory (equal values end it after at most four passes)."""
    prefix, bits, rank, left = 0, 0, k, len(column)
    while bits < 64:
        if left <= SELECT_IN_MEMORY:
            found = [
                chunk[_matches(_ordered_keys(chunk), prefix, bits)] for chunk in column.chunks()
            ]
            values = np.concatenate(found)
            return float(np.partition(values, rank)[rank])
        hist = np.zeros(1 << 16, dtype=np.int64)
        shift = np.uint64(64 - bits - 16)
        for chunk in column.chunks():
            keys = _ordered_keys(chunk)
            keys = keys[_matches(keys, prefix, bits)]
            hist += np.bincount((keys >> shift) & np.uint64(0xFFFF), minlength=1 << 16)
        cum = np.cumsum(hist)
        digit = int(np.searchsorted(cum, rank, side="right"))
        rank -= int(cum[digit - 1]) if digit else 0
        left = int(hist[digit])
        prefix, bits = (prefix << 16) | digit, bits + 16
    key = np.array([prefix], dtype=np.uint64)  # every bit fixed: the value itself
    negative = not (int(key[0]) >> 63)
    bits_out = ~key if negative else key & np.uint64((1 << 63) - 1)
    return float(bits_out.view(np.float64)[0])


def _matches(keys: npt.NDArray[np.uint64], prefix: int, bits: int) -> npt.NDArray[np.bool_]:
    if bits == 0:
        return np.ones(keys.size, dtype=bool)
    return (keys >> np.uint64(64 - bits)) == np.uint64(prefix)


def exact_median(column: SpillColumn) -> float:
    """``np.median`` of the column's values (the mean of the two middle ones when even)."""
    n = len(column)
    middle = {(n - 1) // 2, n // 2}
    return float(np.mean(np.array([select_kth(column, k) for k in sorted(middle)])))
