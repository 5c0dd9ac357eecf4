"""Tardis.dev CSV datasets (``trades``, ``quotes``, ``book_snapshot_*``; plain or ``.csv.gz``).

Tardis files share one header convention (exchange, symbol, timestamp, local_timestamp in µs
since epoch), so the data type is recognised from the header and expressed as a
:class:`VendorMapping`; the generic reader does the work. ``timestamp`` is the exchange time
(-> ts_event), ``local_timestamp`` Tardis' receive time (-> ts_recv). Tardis trade ids are
vendor strings (often UUIDs): they go to ``trade_id``, not the integer ``sequence``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa

from quant_assets.lib.ticks.adapters.detection import header_names
from quant_assets.lib.ticks.adapters.errors import MalformedFileError, UnsupportedFileError
from quant_assets.lib.ticks.adapters.mapped_reader import read_mapped
from quant_assets.lib.ticks.adapters.mapping import Columns, TimeSpec, VendorMapping

SOURCE = "tardis"
TardisKind = Literal["trades", "quotes", "book_snapshot"]

_COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
_TIME = TimeSpec(unit="us")


def tardis_kind(names: list[str]) -> TardisKind | None:
    """Which Tardis data type a header belongs to; None if it is not a Tardis header."""
    if not set(_COMMON) <= set(names):
        return None
    if {"side", "price", "amount"} <= set(names):
        return "trades"
    if {"ask_amount", "ask_price", "bid_price", "bid_amount"} <= set(names):
        return "quotes"
    if {"asks[0].price", "bids[0].price"} <= set(names):
        return "book_snapshot"
    return None


def tardis_mapping(kind: TardisKind) -> VendorMapping:
    common = {"ts_event": "timestamp", "ts_recv": "local_timestamp", "symbol": "symbol"}
    if kind == "trades":
        return VendorMapping(
            name=SOURCE,
            format="csv",
            record_type="trade",  # type: ignore[arg-type]  # pydantic coerces to RecordType
            columns=Columns(
                **common,
                exchange="exchange",
                price="price",
                size="amount",
                side="side",
                trade_id="id",
            ),
            side_values={"buy": "B", "sell": "S", "unknown": ""},
            time=_TIME,
        )
    if kind == "quotes":
        bid_ask = {
            "bid_price": "bid_price",
            "bid_size": "bid_amount",
            "ask_price": "ask_price",
            "ask_size": "ask_amount",
        }
    else:
        bid_ask = {
            "bid_price": "bids[0].price",
            "bid_size": "bids[0].amount",
            "ask_price": "asks[0].price",
            "ask_size": "asks[0].amount",
        }
    return VendorMapping(
        name=SOURCE,
        format="csv",
        record_type="quote",  # type: ignore[arg-type]
        columns=Columns(**common, exchange="exchange", **bid_ask),
        time=_TIME,
    )


def is_tardis_header(names: list[str]) -> bool:
    return set(_COMMON) <= set(names)


def is_tardis_file(path: str | Path) -> bool:
    names = header_names(Path(path))
    return names is not None and is_tardis_header(names)


def tardis_file_mapping(path: str | Path) -> VendorMapping:
    """The mapping of one Tardis CSV, from its header; other Tardis data types
    (incremental_book_L2, derivative_ticker, liquidations, ...) raise
    :class:`UnsupportedFileError`."""
    p = Path(path)
    names = header_names(p)
    if names is None:
        raise MalformedFileError(p, "not a readable CSV file")
    if not set(_COMMON) <= set(names):
        missing = [c for c in _COMMON if c not in names]
        raise MalformedFileError(p, f"not a Tardis CSV: header lacks {missing}", line=1)
    kind = tardis_kind(names)
    if kind is None:
        raise UnsupportedFileError(
            p,
            "unsupported Tardis data type (only trades, quotes and book_snapshot_* are read); "
            f"header: {names}",
            line=1,
        )
    return tardis_mapping(kind)


def read_tardis(path: str | Path) -> pa.Table:
    """Canonical ticks from one Tardis CSV, read whole (landing streams it through
    :func:`tardis_file_mapping` and the streaming mapped reader)."""
    return read_mapped(Path(path), tardis_file_mapping(path))
