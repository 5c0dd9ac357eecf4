"""Partitioned checks on clean_ticks: a Great Expectations suite, reconciliation and coverage
(blocking), data freshness, and the quarantine rate per source.

A partition is a market-session; each check reads the session's manifest rows and judges every
symbol in it (and every partition of a backfill range), failing if any fails, naming them.
"""

from collections.abc import Iterator

import dagster as dg

from quant_assets.defs.partitions import session_and_market, tick_partitions
from quant_assets.lib.ticks import manifest, pipeline, quality
from quant_assets.lib.ticks.manifest import ManifestEntry
from resources.object_store import ObjectStoreResource
from resources.platform import PlatformSettingsResource
from resources.warehouse import WarehouseResource

MAX_LISTED = 50  # failing symbols named in metadata; the count is always complete


def _entries(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[ManifestEntry]:
    wh = warehouse.get_warehouse()
    for key in context.partition_keys:
        session, market = session_and_market(key)
        yield from manifest.session_entries(wh, session, market)


def _capped(items: dict[str, object]) -> dict[str, object]:
    return dict(sorted(items.items())[:MAX_LISTED])


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="Great Expectations suite: non-null keys, valid symbol and record type, "
    "non-decreasing event time, positive prices and sizes, ask above bid.",
)
def clean_ticks_expectations(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    from quant_assets.lib.ticks.expectations import validate_clean_ticks

    store = object_store.get_store()
    failing: dict[str, object] = {}
    rows = evaluated = symbols = 0
    for entry in _entries(context, warehouse):
        symbols += 1
        table = store.read_parquet(entry.clean_key)
        outcome = validate_clean_ticks(table, entry.symbol)
        rows += table.num_rows
        evaluated += outcome.evaluated
        if not outcome.success:
            failing[entry.partition_key] = {
                f"{f.expectation}({f.column})": f.unexpected_count for f in outcome.failures
            }
    rules = sorted({rule for per_key in failing.values() for rule in per_key})  # type: ignore[attr-defined]
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description="all expectations met" if not failing else "failing: " + ", ".join(rules),
        metadata={
            "rows": rows,
            "symbols": symbols,
            "expectations_evaluated": evaluated,
            "failing_symbols": len(failing),
            "failing_expectations": dg.MetadataValue.json(_capped(failing)),
        },
    )


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="raw rows = clean rows + quarantined rows for every symbol, read from the "
    "committed objects' footers and equal to the manifest's counts: cleaning loses nothing.",
)
def clean_ticks_reconcile(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    totals = {"raw_rows": 0, "clean_rows": 0, "quarantined_rows": 0}
    unbalanced: dict[str, object] = {}
    for entry in _entries(context, warehouse):
        r = pipeline.reconcile(store, entry)
        totals["raw_rows"] += r.raw
        totals["clean_rows"] += r.clean
        totals["quarantined_rows"] += r.quarantined
        recorded = (entry.raw_rows, entry.clean_rows, entry.quarantined_rows)
        if not r.balanced or (r.raw, r.clean, r.quarantined) != recorded:
            unbalanced[entry.partition_key] = r.raw - r.clean - r.quarantined
    raw, clean, quarantined = totals.values()
    return dg.AssetCheckResult(
        passed=not unbalanced,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"raw {raw} vs clean {clean} + quarantined {quarantined}"
        + (f"; unbalanced: {sorted(unbalanced)[:MAX_LISTED]}" if unbalanced else ""),
        metadata={**totals, "difference_by_partition": dg.MetadataValue.json(_capped(unbalanced))},
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
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStoreResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    stale: dict[str, object] = {}
    for entry in _entries(context, warehouse):
        gap = pipeline.close_gap_minutes(store, entry)
        if gap is not None and gap > FRESHNESS_MAX_GAP_MINUTES:
            stale[entry.partition_key] = round(gap, 1)
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "data reaches the session close"
            if not stale
            else f"{len(stale)} symbol session(s) end more than {FRESHNESS_MAX_GAP_MINUTES} min "
            "before the close"
        ),
        metadata={"minutes_before_close": dg.MetadataValue.json(_capped(stale))},
    )


@dg.asset_check(
    asset="clean_ticks",
    partitions_def=tick_partitions,
    blocking=True,
    description="On a session the calendar says was open, every built symbol has clean rows, "
    "at least the platform's clean_min_share of its raw rows (an empty output passes every "
    "row-level expectation, so this catches it).",
)
def clean_ticks_coverage(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.AssetCheckResult:
    short: dict[str, object] = {}
    raw = clean = 0
    for entry in _entries(context, warehouse):
        if entry.status != manifest.ManifestStatus.BUILT:
            continue  # no raw rows: nothing was expected of cleaning
        c = quality.coverage(entry, platform.clean_min_share)
        raw, clean = raw + c.raw, clean + c.clean
        if not c.passed:
            share = None if c.share is None else round(c.share, 4)
            short[entry.partition_key] = {"raw": c.raw, "clean": c.clean, "share": share}
    return dg.AssetCheckResult(
        passed=not short,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"clean rows cover open sessions (>= {platform.clean_min_share:.0%} of raw)"
            if not short
            else f"{len(short)} open-session symbol(s) with too few clean rows: "
            + ", ".join(sorted(short)[:MAX_LISTED])
        ),
        metadata={
            "raw_rows": raw,
            "clean_rows": clean,
            "min_share": platform.clean_min_share,
            "short_symbols": dg.MetadataValue.json(_capped(short)),
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
    warehouse: WarehouseResource,
    platform: PlatformSettingsResource,
) -> dg.AssetCheckResult:
    store = object_store.get_store()
    totals: dict[str, list[int]] = {}
    for entry in _entries(context, warehouse):
        for source, q in quality.quarantine_by_source(store, entry).items():
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
            else f"quarantine rate over {platform.quarantine_max_share:.0%}: "
            + ", ".join(f"{s} {r:.1%}" for s, r in sorted(over.items()))
        ),
        metadata={
            "quarantine_rate_by_source": dg.MetadataValue.json(rates),
            "max_share": platform.quarantine_max_share,
        },
    )


def blocking_check_keys() -> list[dg.AssetCheckKey]:
    """The checks that gate downstream work (the retrain sensor waits for them too)."""
    checks = (clean_ticks_expectations, clean_ticks_reconcile, clean_ticks_coverage)
    return sorted(
        (spec.key for check in checks for spec in check.check_specs if spec.blocking),
        key=lambda k: k.name,
    )
