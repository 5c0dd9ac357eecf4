"""Partitions: UTC day x symbol for ticks; one dynamic partition per landed vendor file."""

from datetime import date

import dagster as dg

TICKS_START_DATE = "2013-01-01"  # earliest real sample in the shared data (TrueFX 2013-01-01)

date_partitions = dg.DailyPartitionsDefinition(start_date=TICKS_START_DATE, timezone="UTC")
symbol_partitions = dg.DynamicPartitionsDefinition(name="symbols")
tick_partitions = dg.MultiPartitionsDefinition(
    {"date": date_partitions, "symbol": symbol_partitions}
)
landing_file_partitions = dg.DynamicPartitionsDefinition(name="landing_files")


def tick_partition_key(day: date, symbol: str) -> str:
    """'2024-01-02|SPY' — Dagster orders multi-partition dimensions by name (date, symbol)."""
    return dg.MultiPartitionKey({"date": day.isoformat(), "symbol": symbol})


def day_and_symbol(partition_key: str) -> tuple[date, str]:
    dims = tick_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return date.fromisoformat(dims["date"]), dims["symbol"]
