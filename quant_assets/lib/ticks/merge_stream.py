""":func:`lake.merge_pieces` as a stream: the same row order, a few chunks in memory.

Each staged piece is read in chunks and keyed by :func:`clean_rules.merge_order_key` (its
running maximum time ignoring isolated spikes, which needs two rows of context either side and
the running maximum carried between chunks). The keys are non-decreasing within a piece, so the
pieces are sorted runs: a k-way merge emits every buffered row whose key is below the smallest
last key any unfinished piece holds, ties going to the earlier piece, as the stable argsort of
the whole concatenation does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from quant_assets.lib.ticks.clean_rules import IntArray, local_time_spikes
from quant_assets.lib.ticks.schema import conform

_NO_TIME = np.iinfo(np.int64).min


def times(table: pa.Table) -> IntArray:
    return np.asarray(table.column("ts_event").cast(pa.int64()).to_numpy(), dtype=np.int64)


def rechunk(tables: Iterable[pa.Table], size: int) -> Iterator[pa.Table]:
    """The rows of ``tables`` in chunks of exactly ``size`` rows (the last may be shorter)."""
    held: list[pa.Table] = []
    rows = 0
    for table in tables:
        if not table.num_rows:
            continue
        held.append(table)
        rows += table.num_rows
        while rows >= size:
            whole = pa.concat_tables(held)
            yield whole.slice(0, size).combine_chunks()
            rest = whole.slice(size)
            held, rows = ([rest] if rest.num_rows else []), rest.num_rows
    if rows:
        yield pa.concat_tables(held).combine_chunks()


def keyed(chunks: Iterable[pa.Table], size: int) -> Iterator[tuple[IntArray, pa.Table]]:
    """Conformed chunks of one piece with their merge-order keys."""
    before = np.zeros(0, dtype=np.int64)  # the last two times of the previous chunk
    running = _NO_TIME
    pending: pa.Table | None = None

    def finish(table: pa.Table, after: IntArray) -> tuple[IntArray, pa.Table]:
        nonlocal before, running
        ts = times(table)
        spikes = local_time_spikes(np.concatenate([before, ts, after]))
        masked = np.where(spikes[before.size : before.size + ts.size], _NO_TIME, ts)
        keys = np.maximum.accumulate(np.concatenate([[running], masked]))[1:]
        running, before = int(keys[-1]), ts[-2:]
        return keys, table

    for chunk in rechunk((conform(c) for c in chunks), max(2, size)):
        if pending is not None:
            yield finish(pending, times(chunk)[:2])
        pending = chunk
    if pending is not None:
        yield finish(pending, np.zeros(0, dtype=np.int64))


def merged(pieces: list[Iterator[tuple[IntArray, pa.Table]]]) -> Iterator[pa.Table]:
    """The rows of the keyed pieces in merge order (stable: ties keep piece order)."""
    keys: list[list[IntArray]] = [[] for _ in pieces]
    rows: list[list[pa.Table]] = [[] for _ in pieces]
    done = [False] * len(pieces)

    def load(i: int) -> None:
        nxt = next(pieces[i], None)
        if nxt is None:
            done[i] = True
        else:
            keys[i].append(nxt[0])
            rows[i].append(nxt[1])

    for i in range(len(pieces)):
        load(i)
    while True:
        for i in range(len(pieces)):
            while not done[i] and not keys[i]:
                load(i)
        live = [i for i in range(len(pieces)) if not done[i]]
        if not live and not any(keys):
            return
        bound = min(int(keys[i][-1][-1]) for i in live) if live else None
        out_keys: list[IntArray] = []
        out_rows: list[pa.Table] = []
        for i in range(len(pieces)):
            if not keys[i]:
                continue
            k = np.concatenate(keys[i])
            table = pa.concat_tables(rows[i])
            cut = k.size if bound is None else int(np.searchsorted(k, bound, side="left"))
            if cut:
                out_keys.append(k[:cut])
                out_rows.append(table.slice(0, cut))
            keys[i] = [k[cut:]] if cut < k.size else []
            rows[i] = [table.slice(cut)] if cut < k.size else []
        if out_rows:
            order = np.argsort(np.concatenate(out_keys), kind="stable")
            yield pa.concat_tables(out_rows).take(order)
        if bound is not None:  # the pieces holding the bound read on
            for i in live:
                if keys[i] and int(keys[i][-1][-1]) == bound:
                    load(i)
