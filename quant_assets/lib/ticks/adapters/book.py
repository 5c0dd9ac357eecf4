"""One-sided quote updates consolidated into two-sided top of book, batch by batch.

Many equity feeds send each quote update for one side only (the other side 0 or empty). Each
side is carried forward from the last update of that side, per venue (or consolidated across
venues), and the carry is reset at every session open of the symbol's calendar, so a quote
never outlives its session. Before both sides are known a quote stays one-sided and cleaning
quarantines it as ``missing_price``. :class:`QuoteBook` keeps the last update of each side per
(symbol, venue, session) between record batches, so a file streamed in batches gets exactly the
quotes of a whole-file read (memory: the batch plus one entry per group seen).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.schema import RecordType
from quant_assets.lib.ticks.sessions import session_opens

_SIDES = (("bid_price", "bid_size"), ("ask_price", "ask_size"))
_DAY_NS = 86_400 * 10**9
_BEFORE_ANY = np.iinfo(np.int64).min  # a time before the calendar's first session
GroupKey = tuple[str, Any, int]  # (symbol, venue or None, session open ns)
Side = tuple[Any, Any]  # (price, size) of the last update of one side


def _session_opens_of(calendar: str, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Open time (ns) of the session each time belongs to (the last open at or before it): an
    absolute id, so batches of one file agree; before the first session, ``_BEFORE_ANY``."""
    lo, hi = int(ts.min()), int(ts.max())
    for days_back in (0, 14, 60, 400):
        opens = session_opens(calendar, lo - days_back * _DAY_NS, hi)
        idx = np.searchsorted(opens, ts, side="right")
        if opens.size and not (idx == 0).any():
            return opens[idx - 1]
    padded = np.concatenate([[_BEFORE_ANY], opens])
    return padded[idx]


def _session_ids(
    symbols: list[str], sym_code: npt.NDArray[np.int64], ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    out = np.zeros(ts.size, dtype=np.int64)
    for code, symbol in enumerate(symbols):
        rows = sym_code == code
        if rows.any():
            out[rows] = _session_opens_of(instrument_for(symbol).calendar, ts[rows])
    return out


def _encoded(col: pa.ChunkedArray) -> tuple[list[Any], npt.NDArray[np.int64]]:
    enc = pc.dictionary_encode(col.combine_chunks())
    return enc.dictionary.to_pylist(), np.asarray(pc.fill_null(enc.indices, -1).to_numpy())


class QuoteBook:
    """Carries each quote side across the record batches of one file (see the module doc)."""

    def __init__(self, by_venue: bool) -> None:
        self.by_venue = by_venue
        self._carry: dict[GroupKey, list[Side | None]] = {}

    def apply(self, table: pa.Table) -> pa.Table:
        """``table`` (the next batch of the file) with each quote's missing side carried from
        the last update of that side in the same (symbol, venue if ``by_venue``, session), in
        this batch or an earlier one; trades are untouched."""
        is_quote = np.asarray(
            pc.fill_null(pc.equal(table.column("record_type"), RecordType.QUOTE.value), False),
            bool,
        )
        rows = np.flatnonzero(is_quote)
        if rows.size == 0:
            return table
        quotes = table.take(rows)
        symbols, sym_code = _encoded(quotes.column("symbol"))
        ts = quotes.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy()
        session = _session_ids(symbols, sym_code, ts)
        if self.by_venue:
            venues, venue = _encoded(quotes.column("exchange"))
        else:
            venues, venue = [], np.zeros(rows.size, np.int64)
        n = rows.size
        order = np.lexsort((np.arange(n), session, venue, sym_code))  # groups, vendor order
        key = np.stack([sym_code[order], venue[order], session[order]])
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = np.any(key[:, 1:] != key[:, :-1], axis=0)
        starts = np.flatnonzero(new_group)
        group = np.cumsum(new_group) - 1  # group of each sorted row
        group_start = starts[group]
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        groups: list[GroupKey] = [
            (
                symbols[key[0, s]],
                venues[key[1, s]] if self.by_venue and key[1, s] >= 0 else None,
                int(key[2, s]),
            )
            for s in starts.tolist()
        ]
        ends = np.r_[starts[1:], n] - 1
        columns = {}
        for side, (price_name, size_name) in enumerate(_SIDES):
            price = quotes.column(price_name).combine_chunks()
            size = quotes.column(size_name).combine_chunks()
            valid = np.asarray(pc.is_valid(price).to_numpy(zero_copy_only=False), bool)[order]
            last = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
            last = np.where(last >= group_start, last, -1)
            carried = [self._carry.get(g, [None, None])[side] for g in groups]
            carry_idx = np.full(len(groups), -1, dtype=np.int64)
            extra = [c for c in carried if c is not None]
            carry_idx[[i for i, c in enumerate(carried) if c is not None]] = n + np.arange(
                len(extra)
            )
            source = np.where(last >= 0, order[np.maximum(last, 0)], carry_idx[group])[inverse]
            take = pa.array(source, pa.int64(), mask=source < 0)
            columns[price_name] = _extended(price, [c[0] for c in extra]).take(take)
            columns[size_name] = _extended(size, [c[1] for c in extra]).take(take)
            self._remember(side, groups, last[ends], order, price, size)
        out = table
        for name, values in columns.items():
            full = table.column(name).combine_chunks()
            merged = _scatter(full, rows, values)
            out = out.set_column(out.schema.get_field_index(name), name, merged)
        return out

    def _remember(
        self,
        side: int,
        groups: list[GroupKey],
        last_at_end: npt.NDArray[np.int64],
        order: npt.NDArray[np.int64],
        price: pa.Array,
        size: pa.Array,
    ) -> None:
        """Each group's last update of ``side`` in this batch becomes its carry (a group
        without one keeps its carry from earlier batches)."""
        for g, last in zip(groups, last_at_end.tolist(), strict=True):
            if last < 0:
                continue
            row = int(order[last])
            self._carry.setdefault(g, [None, None])[side] = (price[row].as_py(), size[row].as_py())


def _extended(values: pa.Array, extra: list[Any]) -> pa.Array:
    if not extra:
        return values
    return pa.concat_arrays([values, pa.array(extra, values.type)])


def consolidate_quotes(table: pa.Table, by_venue: bool) -> pa.Table:
    """Quote rows of a whole file with each missing side carried (see :class:`QuoteBook`)."""
    return QuoteBook(by_venue).apply(table)


def _scatter(full: pa.Array, rows: npt.NDArray[np.int64], values: pa.Array) -> pa.Array:
    """``full`` with positions ``rows`` replaced by ``values``."""
    index = np.arange(len(full), dtype=np.int64)
    index[rows] = len(full) + np.arange(rows.size)
    return pa.concat_arrays([full, values.cast(full.type)]).take(pa.array(index))
