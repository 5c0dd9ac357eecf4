"""Synthetic ticks for one partition, seeded by (seed, symbol, day) so re-runs are identical."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date

import pyarrow as pa

from quant_assets.lib.ticks.instruments import instrument_for
from quant_assets.lib.ticks.schema import empty_ticks
from quant_assets.lib.ticks.sessions import session_windows
from quant_assets.lib.ticks.synthetic import REASON_CODES, SyntheticConfig, generate_ticks


def partition_seed(seed: int, symbol: str, day: date) -> int:
    digest = hashlib.sha256(f"{seed}|{symbol}|{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def synthetic_source(
    ticks_per_session: int, seed: int, bad_tick_rate: float = 5e-4
) -> Callable[[str, date], pa.Table]:
    """``bad_tick_rate`` per reason code: enough bad rows in every partition to exercise every
    cleaning rule, few enough to leave realistic data."""
    rates = dict.fromkeys(REASON_CODES, bad_tick_rate)

    def generate(symbol: str, day: date) -> pa.Table:
        instrument = instrument_for(symbol)
        windows = session_windows(instrument.calendar, day)
        if windows.size == 0:
            return empty_ticks()  # closed day: no session, no ticks
        config = SyntheticConfig(
            seed=partition_seed(seed, symbol, day),
            base_price=instrument.base_price,
            bad_tick_rates=rates,
        )
        start, end = int(windows[0, 0]), int(windows[-1, 1])
        return generate_ticks(symbol, start, end, config, n_ticks=ticks_per_session).table

    return generate
