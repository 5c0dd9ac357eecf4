from __future__ import annotations

import dagster as dg

from quant_assets.defs.ticks import partition_metadata


def test_partition_metadata_range_with_nested_json_serializes() -> None:
    """An automation run over a range of cost partitions nests per-partition JSON values."""
    per_key = {
        "2024-01-03|FX": {"symbols": 1, "by_symbol": dg.MetadataValue.json({"EURUSD": {"v": 1}})},
        "2024-01-04|FX": {"symbols": 1, "by_symbol": dg.MetadataValue.json({"EURUSD": {"v": 2}})},
    }
    metadata = partition_metadata(per_key)
    by_partition = metadata["by_partition"]
    assert by_partition.value["2024-01-04|FX"]["by_symbol"] == {"EURUSD": {"v": 2}}
    dg.MaterializeResult(metadata=metadata)  # raises on a value it cannot serialize
    assert dg.serialize_value(by_partition)
