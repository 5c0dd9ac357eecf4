"""Partitions: session date x market for ticks (independent of the number of symbols); one
dynamic partition per landed vendor file; ``symbols`` for per-symbol policies."""

from datetime import date

import dagster as dg

from quant_assets.lib.ticks.sessions import MARKETS, first_session_from_env

# The first session comes from QUANT_FIRST_SESSION (default 1990-01-01); the last partition is
# tomorrow's session (end_offset=2): today's partial session is built, and CME's evening ticks
# already belong to the next session.
session_partitions = dg.DailyPartitionsDefinition(
    start_date=first_session_from_env().isoformat(), timezone="UTC", end_offset=2
)
market_partitions = dg.StaticPartitionsDefinition(list(MARKETS))
tick_partitions = dg.MultiPartitionsDefinition(
    {"date": session_partitions, "market": market_partitions}
)
symbol_partitions = dg.DynamicPartitionsDefinition(name="symbols")
landing_file_partitions = dg.DynamicPartitionsDefinition(name="landing_files")


def tick_partition_key(session: date, market: str) -> str:
    """'2024-01-02|XNYS' — Dagster orders multi-partition dimensions by name (date, market)."""
    return dg.MultiPartitionKey({"date": session.isoformat(), "market": market})


def session_and_market(partition_key: str) -> tuple[date, str]:
    dims = tick_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return date.fromisoformat(dims["date"]), dims["market"]
