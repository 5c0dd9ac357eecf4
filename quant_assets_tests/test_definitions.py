"""The code location loads as the webserver and daemon load it (name clashes, bad mappings)."""

import dagster as dg

from quant_assets.definitions import defs
from quant_assets.defs.partitions import tick_partitions


def test_definitions_validate_loadable_with_session_market_partitions() -> None:
    dg.Definitions.validate_loadable(defs)
    # session dates from 1990 x 4 markets: under Dagster's 100k partitions per asset guidance
    assert tick_partitions.get_num_partitions() < 100_000
