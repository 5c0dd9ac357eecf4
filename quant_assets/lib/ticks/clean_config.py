"""What cleaning is told and what it returns: reason codes, thresholds, results.

The reasons are listed in the order the rules run (see :mod:`cleaning`); thresholds follow
Barndorff-Nielsen, Hansen, Lunde & Shephard (2009) with the floors documented in
docs/cleaning_rules.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from quant_assets.lib.ticks.adapters.mapping import condition_tables, duplicate_policies
from quant_assets.lib.ticks.synthetic import SOURCE as SYNTHETIC_SOURCE
from quant_assets.lib.ticks.synthetic import VALID_CONDITIONS as SYNTHETIC_VALID_CONDITIONS
from quant_assets.lib.ticks.vendor_rules import DuplicatePolicy

DEFAULT_MAX_ROWS_IN_MEMORY = 1_000_000  # bounded build: ~0.9 GB peak (2M: ~1.7 GB)


class Reason(StrEnum):
    """Quarantine reason codes, in the order the rules run. ``VENDOR_FLAG`` rows are labelled
    with the reason their mapping names for the flag (``vendor_correction``, ...)."""

    VENDOR_FLAG = "vendor_flag"
    NON_MONOTONIC_TIME = "non_monotonic_time"
    DUPLICATE = "duplicate"
    NON_FINITE = "non_finite_value"
    ABSURD_VALUE = "absurd_value"
    MISSING_PRICE = "missing_price"
    NONPOSITIVE_PRICE = "nonpositive_price"
    NONPOSITIVE_SIZE = "nonpositive_size"
    OUTSIDE_SESSION = "outside_session"
    INVALID_CONDITION = "invalid_condition"
    CROSSED_QUOTE = "crossed_quote"
    LOCKED_QUOTE = "locked_quote"
    WIDE_SPREAD = "wide_spread"
    PRICE_OUTLIER = "price_outlier"  # quotes' mid; trades' price only without a fresh quote
    TRADE_OUTSIDE_QUOTES = "trade_outside_quotes"


REASONS: tuple[Reason, ...] = tuple(Reason)


def _mapping_conditions() -> dict[str, frozenset[str]]:
    return {SYNTHETIC_SOURCE: SYNTHETIC_VALID_CONDITIONS, **condition_tables()}


@dataclass(frozen=True)
class CleaningConfig:
    spread_median_multiple: float = 50.0  # BN-H Q3
    # Floors (our addition, 0 = the paper's rule): a spread must also exceed this many bps of
    # the mid to be "wide", and T4's band is max(spread, this many bps of the mid).
    wide_spread_min_bps: float = 0.0
    trade_band_min_bps: float = 0.0
    # Quotes older than this do not judge a trade. A standing quote is still the market, so the
    # paper's rule has no limit; sampled quote feeds (crypto snapshots) need one.
    max_quote_age_ms: float = math.inf
    outlier_window: int = 50  # BN-H Q4/T4: 25 observations each side
    outlier_mads: float = 10.0  # BN-H Q4/T4
    min_outlier_observations: int = 10  # too few points give no meaningful local median
    # Granularity floor (Brownlees & Gallo 2006's gamma), in bps of the local median: on a flat
    # quote stream the mean absolute deviation is ~0 and a one-tick flicker would count as an
    # outlier (measured: 1% of 10M dense synthetic quotes at 0 bps).
    outlier_min_bps: float = 2.0
    # Tick floor: no outlier threshold below this many ticks of the instrument's tick size
    # (``tick_sizes`` per symbol, else inferred from the price grid), so a one-tick bid/ask
    # bounce is never an outlier whatever the price level (one cent on $13.75 is 7.3 bps).
    outlier_min_ticks: float = 3.0
    tick_sizes: Mapping[str, float] = field(default_factory=dict)
    # Bounds: a finite price or size beyond these is a unit or scaling error, not a market.
    max_price: float = 1e9
    max_size: float = 1e15
    # Identical rows: "evidence" removes a repeat only when it carries a trade id or sequence
    # number (a re-sent message); without them two identical fills are possible and the row is
    # kept and counted as a possible duplicate. Per source; "drop"/"keep" force either.
    duplicate_policy: Mapping[str, DuplicatePolicy] = field(
        default_factory=lambda: dict(duplicate_policies())
    )  # Sale-condition codes that mark a regular trade, per source (the ``source`` column):
    # condition codes mean different things per vendor, and a source not listed here is not
    # judged. An empty/NULL condition is always regular. Mappings add their own tables
    # (``valid_conditions`` in the mapping file).
    valid_conditions: Mapping[str, frozenset[str]] = field(default_factory=_mapping_conditions)
    # Minutes added before the open / after the close, per calendar (e.g. extended hours).
    session_extension_minutes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # A partition with more rows is built in windows of this many rows, in bounded memory and
    # with the same output (``streaming_build``); ~280 bytes per row in memory either way.
    max_rows_in_memory: int = DEFAULT_MAX_ROWS_IN_MEMORY
    # Per-calendar replacements of the numeric fields above. Crypto's median spread is one tick
    # of a five-figure price (BTC at 1 cent), so 50x median sits inside normal spreads, and its
    # sampled top-of-book quotes make a one-tick T4 band condemn half the trades (measured on
    # the Binance sample: 604 of 2,001 trades at 0 bps, none at 5 bps).
    calendar_overrides: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {
            "24/7": {
                "wide_spread_min_bps": 10.0,
                "trade_band_min_bps": 5.0,
                "max_quote_age_ms": 1_000.0,
            }
        }
    )

    def for_calendar(self, calendar: str | None) -> CleaningConfig:
        overrides = self.calendar_overrides.get(calendar or "", {})
        return replace(self, **overrides) if overrides else self  # type: ignore[arg-type]


@dataclass(frozen=True)
class CleaningResult:
    clean: pa.Table
    quarantine: pa.Table  # input columns + "reason"
    reason_counts: dict[str, int]
    possible_duplicates: int = 0  # identical rows kept for lack of evidence they are errors
    tick_size: float | None = None  # the tick the outlier floor used (configured or inferred)
    # Reason code of every input row (0 = clean): clean/quarantine are input.take() of it.
    codes: npt.NDArray[np.int8] | None = None

    @property
    def raw_rows(self) -> int:
        return self.clean.num_rows + self.quarantine.num_rows
