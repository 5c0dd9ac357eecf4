"""Partitioned checks on clean_ticks: a Great Expectations suite, reconciliation and coverage
(blocking), data freshness, and the quarantine rate per source.

A backfill run covers a range of partitions; each check then judges every partition of the range
and fails if any does, naming the failing ones.
"""

import dagster as dg

from quant_assets.defs.partitions import day_and_symbol, tick_partitions
from quant_assets.lib.ticks import pipeline, quality
from quant_assets.lib.ticks.lake import Dataset, partition_object
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="Great Expectations suite: non-null keys, valid symbol and record type, "
    "non-decreasing event time, positive prices and sizes, ask above bid.",
)
def clean_ticks_expectations(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    from quant_assets.lib.ticks.expectations import validate_clean_ticks

    store = object_store.get_store()
    failing: dict[str, dict[str, int]] = {}
    rows = evaluated = 0
    for key in context.partition_keys:
        day, symbol = day_and_symbol(key)
        table = store.read_parquet(partition_object(Dataset.CLEAN, day, symbol))
        outcome = validate_clean_ticks(table, symbol)
        rows += table.num_rows
        evaluated += outcome.evaluated
        if not outcome.success:
            failing[key] = {
                f"{f.expectation}({f.column})": f.unexpected_count for f in outcome.failures
            }
    rules = sorted({rule for per_key in failing.values() for rule in per_key})
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description="all expectations met" if not failing else "failing: " + ", ".join(rules),
        metadata={
            "rows": rows,
            "expectations_evaluated": evaluated,
            "failing_expectations": dg.MetadataValue.json(failing),
        },
    )


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="raw rows = clean rows + quarantined rows: cleaning loses nothing.",
)
def clean_ticks_reconcile(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    totals = {"raw_rows": 0, "clean_rows": 0, "quarantined_rows": 0}
    unbalanced: dict[str, int] = {}
    for key in context.partition_keys:
        r = pipeline.reconcile(store, *day_and_symbol(key))
        totals["raw_rows"] += r.raw
        totals["clean_rows"] += r.clean
        totals["quarantined_rows"] += r.quarantined
        if not r.balanced:
            unbalanced[key] = r.raw - r.clean - r.quarantined
    raw, clean, quarantined = totals.values()
    return dg.AssetCheckResult(
        passed=not unbalanced,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"raw {raw} vs clean {clean} + quarantined {quarantined}"
        + (f"; unbalanced: {sorted(unbalanced)}" if unbalanced else ""),
        metadata={**totals, "difference_by_partition": dg.MetadataValue.json(unbalanced)},
    )


FRESHNESS_MAX_GAP_MINUTES = 30


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    description="Freshness of the data itself: the last clean tick is within "
    f"{FRESHNESS_MAX_GAP_MINUTES} min of the session close (a feed that stopped early, or a "
    "partial file). A warning: short vendor samples are legitimate.",
)
def clean_ticks_freshness(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    stale: dict[str, float] = {}
    for key in context.partition_keys:
        day, symbol = day_and_symbol(key)
        gap = pipeline.close_gap_minutes(store, day, symbol)
        if gap is not None and gap > FRESHNESS_MAX_GAP_MINUTES:
            stale[key] = round(gap, 1)
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "data reaches the session close"
            if not stale
            else f"{len(stale)} partition(s) end more than {FRESHNESS_MAX_GAP_MINUTES} min "
            "before the close"
        ),
        metadata={"minutes_before_close": dg.MetadataValue.json(stale)},
    )


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="On a session the calendar says was open, clean rows exist and are at least "
    "the platform's clean_min_share of the raw rows (an empty output passes every row-level "
    "expectation, so this catches it).",
)
def clean_ticks_coverage(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    platform: PlatformSettingsResource,
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    short: dict[str, dict[str, float | int | None]] = {}
    raw = clean = 0
    for key in context.partition_keys:
        c = quality.coverage(store, *day_and_symbol(key), platform.clean_min_share)
        raw, clean = raw + c.raw, clean + c.clean
        if not c.passed:
            share = None if c.share is None else round(c.share, 4)
            short[key] = {"raw": c.raw, "clean": c.clean, "share": share}
    return dg.AssetCheckResult(
        passed=not short,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"clean rows cover open sessions (>= {platform.clean_min_share:.0%} of raw)"
            if not short
            else f"{len(short)} open-session partition(s) with too few clean rows: {sorted(short)}"
        ),
        metadata={
            "raw_rows": raw,
            "clean_rows": clean,
            "min_share": platform.clean_min_share,
            "short_partitions": dg.MetadataValue.json(short),
        },
    )


@dg.asset_check(
    asset="tick_quarantine",
    partitions_def=tick_partitions,
    description="Share of each source's raw rows that cleaning quarantined stays under the "
    "platform's quarantine_max_share (a vendor feed gone bad shows here first).",
)
def tick_quarantine_rate(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    platform: PlatformSettingsResource,
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    totals: dict[str, list[int]] = {}
    for key in context.partition_keys:
        for source, q in quality.quarantine_by_source(store, *day_and_symbol(key)).items():
            raw_q = totals.setdefault(source, [0, 0])
            raw_q[0] += q.raw
            raw_q[1] += q.quarantined
    rates = {s: round(q / r, 4) if r else 0.0 for s, (r, q) in totals.items()}
    over = {s: rate for s, rate in rates.items() if rate > platform.quarantine_max_share}
    return dg.AssetCheckResult(
        passed=not over,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"every source under {platform.quarantine_max_share:.0%} quarantined"
            if not over
            else "quarantine rate over "
            f"{platform.quarantine_max_share:.0%}: "
            + ", ".join(f"{s} {r:.1%}" for s, r in sorted(over.items()))
        ),
        metadata={
            "quarantine_rate_by_source": dg.MetadataValue.json(rates),
            "max_share": platform.quarantine_max_share,
        },
    )
