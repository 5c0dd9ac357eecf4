"""One-sided quote updates consolidated into two-sided top of book.

Many equity feeds send each quote update for one side only (the other side 0 or empty). Each
side is carried forward from the last update of that side, per venue (or consolidated across
venues), and the carry is reset at every session open of the symbol's calendar, so a quote
never outlives its session. Before both sides are known a quote stays one-sided and cleaning
quarantines it as ``missing_price``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.schema import RecordType
from quant_assets.lib.ticks.sessions import session_opens

_SIDES = (("bid_price", "bid_size"), ("ask_price", "ask_size"))


def _codes(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int64]:
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return np.asarray(pc.fill_null(enc.indices, -1).to_numpy(), dtype=np.int64)


def _session_ids(
    symbols: list[str], sym_code: npt.NDArray[np.int64], ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    out = np.zeros(ts.size, dtype=np.int64)
    for code, symbol in enumerate(symbols):
        rows = sym_code == code
        if not rows.any():
            continue
        t = ts[rows]
        opens = session_opens(instrument_for(symbol).calendar, int(t.min()), int(t.max()))
        out[rows] = np.searchsorted(opens, t, side="right")
    return out


def consolidate_quotes(table: pa.Table, by_venue: bool) -> pa.Table:
    """Quote rows with each missing side carried from the last update of that side in the same
    (symbol, venue if ``by_venue``, session); trades are untouched."""
    is_quote = np.asarray(
        pc.fill_null(pc.equal(table.column("record_type"), RecordType.QUOTE.value), False), bool
    )
    rows = np.flatnonzero(is_quote)
    if rows.size == 0:
        return table
    quotes = table.take(rows)
    symbols_col = pc.dictionary_encode(quotes.column("symbol")).combine_chunks()
    sym_code = np.asarray(symbols_col.indices.to_numpy(), dtype=np.int64)
    ts = quotes.column("ts_event").combine_chunks().cast(pa.int64()).to_numpy()
    session = _session_ids(symbols_col.dictionary.to_pylist(), sym_code, ts)
    venue = _codes(quotes.column("exchange")) if by_venue else np.zeros(rows.size, np.int64)
    n = rows.size
    order = np.lexsort((np.arange(n), session, venue, sym_code))  # groups, vendor order within
    key = np.stack([sym_code[order], venue[order], session[order]])
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(key[:, 1:] != key[:, :-1], axis=0)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    columns = {}
    for price_name, size_name in _SIDES:
        price = quotes.column(price_name).combine_chunks()
        valid = np.asarray(pc.is_valid(price).to_numpy(zero_copy_only=False), bool)[order]
        last = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
        last = np.where(last >= group_start, last, -1)
        source = order[last][inverse]  # per quote row: the row whose side it carries
        take = pa.array(source, pa.int64(), mask=last[inverse] < 0)
        columns[price_name] = price.take(take)
        columns[size_name] = quotes.column(size_name).combine_chunks().take(take)
    out = table
    for name, values in columns.items():
        full = table.column(name).combine_chunks()
        merged = _scatter(full, rows, values)
        out = out.set_column(out.schema.get_field_index(name), name, merged)
    return out


def _scatter(full: pa.Array, rows: npt.NDArray[np.int64], values: pa.Array) -> pa.Array:
    """``full`` with positions ``rows`` replaced by ``values``."""
    index = np.arange(len(full), dtype=np.int64)
    index[rows] = len(full) + np.arange(rows.size)
    return pa.concat_arrays([full, values.cast(full.type)]).take(pa.array(index))
