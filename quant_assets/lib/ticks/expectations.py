"""Great Expectations suite for a clean tick partition.

great_expectations costs ~5 s to import, so it is imported inside the function: importing this
module (and the code location) stays fast. The data context, the dataframe asset and each
symbol's suite are built once per process and reused for every partition validated there
(building them is most of a first validation's time; a validation itself is well under 1 s).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.cleaning import CleaningConfig
from quant_assets.lib.ticks.schema import RecordType

MAX_PRICE = CleaningConfig.max_price
MAX_SIZE = CleaningConfig.max_size
FINITE = "numbers_finite"  # derived column: every price and size of the row is finite or null
_NUMBERS = ("price", "size", "bid_price", "bid_size", "ask_price", "ask_size")


def _finite_rows(table: pa.Table) -> pa.Array:
    ok = pa.array([True] * table.num_rows, pa.bool_())
    for name in _NUMBERS:
        finite = pc.fill_null(pc.is_finite(table.column(name)), True)
        ok = pc.and_(ok, finite)
    return ok


@dataclass(frozen=True)
class ExpectationFailure:
    expectation: str
    column: str
    unexpected_count: int
    sample: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SuiteOutcome:
    success: bool
    evaluated: int
    failures: list[ExpectationFailure]


SUITE_COLUMNS = [  # ts_event first
    "ts_event",
    "symbol",
    "record_type",
    "source",
    "price",
    "size",
    "bid_price",
    "bid_size",
    "ask_price",
    "ask_size",
]


SYMBOLS_PARAMETER = "partition_symbols"


@cache
def _suite() -> Any:
    """One suite per process for every symbol: the partition's symbol is an expectation
    parameter, so a session with thousands of symbols builds no suite per symbol (a forked run
    worker used to spend seconds building them)."""
    gx = _import_gx()
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="clean_ticks")
    for column in ("ts_event", "symbol", "record_type", "source"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="symbol", value_set={"$PARAMETER": SYMBOLS_PARAMETER}
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="record_type", value_set=[r.value for r in RecordType]
        )
    )
    suite.add_expectation(gxe.ExpectColumnValuesToBeIncreasing(column="ts_event", strictly=False))
    # Bounds: nulls are skipped by GX, and so is NaN (pandas' null), hence FINITE below.
    for column in ("price", "bid_price", "ask_price"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, strict_min=True, max_value=MAX_PRICE
            )
        )
    for column in ("size", "bid_size", "ask_size"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, strict_min=True, max_value=MAX_SIZE
            )
        )
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=FINITE, value_set=[True]))
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ask_price", column_B="bid_price", ignore_row_if="either_value_is_missing"
        )
    )
    return suite


def _import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage pings from checks
    import great_expectations as gx

    return gx


@cache
def _batch_definition() -> Any:
    """One ephemeral context with one whole-dataframe batch definition, per process."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("ticks")
    asset = source.add_dataframe_asset("clean_ticks")
    return asset.add_batch_definition_whole_dataframe("partition")


_LOCK = threading.Lock()  # the shared context is not meant for concurrent validations


def warm_up(symbol: str = "SPY") -> None:
    """Import GX, build the context and a suite, and validate two rows now (a process's first
    validation loads GX's metric implementations: seconds), e.g. before a timed loop or in the
    process run workers are forked from."""
    from quant_assets.lib.ticks.schema import TICK_SCHEMA

    with _LOCK:
        _batch_definition()
        _suite()
    rows: dict[str, list[Any]] = {name: [None, None] for name in TICK_SCHEMA.names}
    rows.update(
        ts_event=[1, 2],
        symbol=[symbol, symbol],
        record_type=[RecordType.TRADE.value, RecordType.QUOTE.value],
        source=["warm_up", "warm_up"],
        price=[1.0, None],
        size=[1.0, None],
        bid_price=[None, 1.0],
        bid_size=[None, 1.0],
        ask_price=[None, 1.1],
        ask_size=[None, 1.0],
    )
    validate_clean_ticks(pa.Table.from_pydict(rows, schema=TICK_SCHEMA), symbol)


def validate_clean_ticks(table: pa.Table, symbol: str) -> SuiteOutcome:
    """Run the suite over one partition; an empty partition (closed day) passes trivially."""
    # Only the suite's columns (GX filters whole frames per expectation); integer nanoseconds:
    # GX compares them exactly and needs no time-zone handling.
    finite = _finite_rows(table)
    table = table.select(SUITE_COLUMNS)
    ts = pc.cast(table.column("ts_event"), pa.int64())
    df = table.set_column(0, "ts_event", ts).append_column(FINITE, finite).to_pandas()
    with _LOCK:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(
            _suite(),
            result_format="SUMMARY",
            expectation_parameters={SYMBOLS_PARAMETER: [symbol]},
        )
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = cfg.kwargs if cfg is not None else {}
        column = kwargs.get("column") or f"{kwargs.get('column_A')}>{kwargs.get('column_B')}"
        failures.append(
            ExpectationFailure(
                expectation=cfg.type if cfg is not None else "unknown",
                column=str(column),
                unexpected_count=int(r.result.get("unexpected_count") or 0),
                sample=list(r.result.get("partial_unexpected_list") or [])[:5],
            )
        )
    return SuiteOutcome(
        success=bool(result.success), evaluated=len(result.results), failures=failures
    )
