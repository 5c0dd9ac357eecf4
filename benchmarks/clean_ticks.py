"""Cleaning throughput: our vectorised rules vs the same rules in polars and in straightforward
pandas, vs a Parquet write+read round trip of the same data (the practical limit).

    .venv/bin/python benchmarks/clean_ticks.py [--rows 10000000]

Prints rows/s for each (best of --repeats) and the ratios from one run; every implementation must
agree with ours on every row's reason, or the script exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars_clean import polars_clean  # type: ignore[import-not-found]

from quant_assets.lib.ticks.cleaning import (
    REASONS,
    CleaningConfig,
    Reason,
    clean_ticks,
    infer_tick_size,
)
from quant_assets.lib.ticks.sessions import session_windows
from quant_assets.lib.ticks.synthetic import REASON_CODES, SyntheticConfig, generate_ticks

DAY = date(2024, 1, 2)
CALENDAR = "XNYS"


def pandas_clean(
    df: pd.DataFrame, windows: np.ndarray, cfg: CleaningConfig, present: dict[str, np.ndarray]
) -> pd.Series:
    """The same rules, written the way a pandas user would: Series ops, rolling, ffill.
    pandas holds a missing float as NaN, so ``present`` (Arrow's validity per float column)
    tells a NaN the vendor sent from a missing value."""
    reason = pd.Series(pd.NA, index=df.index, dtype="string")

    def mark(mask: pd.Series, r: Reason) -> None:
        reason[mask.fillna(False).astype(bool) & reason.isna()] = r.value

    mark(df["flag"].notna(), Reason.VENDOR_FLAG)
    ts = df["ts_event"].astype("int64")
    prev, nxt = ts.shift(1), ts.shift(-1)
    consistent = prev <= nxt
    early = (ts < prev) & consistent
    late = (ts > nxt) & consistent & ~early.shift(-1, fill_value=False)
    early &= ~late.shift(1, fill_value=False)
    mark(late | early, Reason.NON_MONOTONIC_TIME)
    kept = ts[reason.isna()]
    mark(
        (kept < kept.cummax().shift(1)).reindex(df.index, fill_value=False),
        Reason.NON_MONOTONIC_TIME,
    )

    repeat = df.duplicated(keep="first")
    error = repeat & (df["trade_id"].notna() | df["sequence"].notna())
    for source, rule in cfg.duplicate_policy.items():
        if rule != "evidence":
            error = error.where(df["source"] != source, repeat & (rule == "drop"))
    mark(error, Reason.DUPLICATE)
    trade = df["record_type"] == "trade"
    quote = ~trade

    def bad(name: str) -> pd.Series:
        return pd.Series(present[name], index=df.index) & ~np.isfinite(df[name])

    mark(
        trade & (bad("price") | bad("size"))
        | quote & (bad("bid_price") | bad("ask_price") | bad("bid_size") | bad("ask_size")),
        Reason.NON_FINITE,
    )

    def big(name: str, limit: float) -> pd.Series:
        return np.isfinite(df[name]) & (df[name].abs() > limit)

    p, s = cfg.max_price, cfg.max_size
    mark(
        trade & (big("price", p) | big("size", s))
        | quote
        & (big("bid_price", p) | big("ask_price", p) | big("bid_size", s) | big("ask_size", s)),
        Reason.ABSURD_VALUE,
    )
    bid0, ask0 = df["bid_price"], df["ask_price"]
    mark(
        trade & df["price"].isna()
        | quote & (bid0.isna() | ask0.isna() | (bid0 == 0) | (ask0 == 0)),
        Reason.MISSING_PRICE,
    )
    mark(
        trade & (df["price"] <= 0) | quote & ((df["bid_price"] <= 0) | (df["ask_price"] <= 0)),
        Reason.NONPOSITIVE_PRICE,
    )
    mark(
        trade & (df["size"] <= 0) | quote & ((df["bid_size"] <= 0) | (df["ask_size"] <= 0)),
        Reason.NONPOSITIVE_SIZE,
    )
    inside = pd.Series(False, index=df.index)
    for start, end in windows:
        inside |= (ts >= start) & (ts < end)
    mark(~inside, Reason.OUTSIDE_SESSION)
    for source, valid in cfg.valid_conditions.items():
        codes = df["conditions"].where(trade & (df["source"] == source)).dropna()
        exploded = codes.str.split(",").explode().str.strip()
        bad = (~exploded.isin(valid) & (exploded != "")).groupby(level=0).any()
        mark(bad.reindex(df.index, fill_value=False), Reason.INVALID_CONDITION)
    mark(quote & (df["bid_price"] > df["ask_price"]), Reason.CROSSED_QUOTE)
    mark(quote & (df["bid_price"] == df["ask_price"]), Reason.LOCKED_QUOTE)

    ok_quote = quote & reason.isna()
    spread = (df["ask_price"] - df["bid_price"])[ok_quote]
    mid = ((df["ask_price"] + df["bid_price"]) / 2)[ok_quote]
    wide = (spread > cfg.spread_median_multiple * spread.median()) & (
        spread > cfg.wide_spread_min_bps * 1e-4 * mid
    )
    mark(wide.reindex(df.index, fill_value=False), Reason.WIDE_SPREAD)

    w = cfg.outlier_window + 1
    ok_quote = quote & reason.isna()
    prices = np.concatenate(
        [
            df["price"][trade & reason.isna()].to_numpy(),
            df["bid_price"][ok_quote].to_numpy(),
            df["ask_price"][ok_quote].to_numpy(),
        ]
    )
    tick = infer_tick_size(prices)
    min_abs = cfg.outlier_min_ticks * tick if tick else 0.0

    def outliers(series: pd.Series) -> pd.Series:
        if len(series) < cfg.min_outlier_observations:
            return pd.Series(False, index=df.index)
        m = min(w // 2 + 1, len(series))
        med = series.rolling(w, center=True, min_periods=m).median()
        dev = (series - med).abs()
        scale = dev.rolling(w, center=True, min_periods=m).mean()
        limit = np.maximum(cfg.outlier_mads * scale + cfg.outlier_min_bps * 1e-4 * med, min_abs)
        return (dev > limit).reindex(df.index, fill_value=False)

    mark(
        outliers(((df["ask_price"] + df["bid_price"]) / 2)[quote & reason.isna()]),
        Reason.PRICE_OUTLIER,
    )

    ok_quote = quote & reason.isna()
    bid = df["bid_price"].where(ok_quote).ffill()
    ask = df["ask_price"].where(ok_quote).ffill()
    quote_ts = ts.where(ok_quote).ffill()
    band = np.maximum(ask - bid, cfg.trade_band_min_bps * 1e-4 * (ask + bid) / 2)
    fresh = quote_ts.notna() & ((ts - quote_ts) <= cfg.max_quote_age_ms * 1e6)
    outside = (df["price"] < bid - band) | (df["price"] > ask + band)
    mark(trade & fresh & outside, Reason.TRADE_OUTSIDE_QUOTES)
    mark(outliers(df["price"][trade & ~fresh & reason.isna()]), Reason.PRICE_OUTLIER)
    flagged = reason == Reason.VENDOR_FLAG.value
    reason[flagged] = df["flag"][flagged]
    return reason


def with_vendor_faults(ticks: pa.Table, rate: float = 5e-4) -> pa.Table:
    """Faults synthetic ticks lack: non-finite and absurd numbers, vendor flags."""
    rng = np.random.default_rng(7)
    n = ticks.num_rows
    out = ticks
    for name, value in (("price", np.inf), ("price", 1e308), ("size", np.nan)):
        col = out.column(name).combine_chunks()
        values = col.to_numpy(zero_copy_only=False).copy()
        rows = rng.choice(n, int(n * rate), replace=False)
        rows = rows[~np.isnan(values[rows])]  # quotes have no price/size
        values[rows] = value
        mask = col.is_null().to_numpy(zero_copy_only=False)
        out = out.set_column(out.schema.get_field_index(name), name, pa.array(values, mask=mask))
    flags = np.full(n, None, dtype=object)
    flags[rng.choice(n, int(n * rate), replace=False)] = "vendor_cancelled"
    return out.set_column(out.schema.get_field_index("flag"), "flag", pa.array(flags, pa.string()))


def timed(fn, repeats: int = 1):  # type: ignore[no-untyped-def]
    """Best of ``repeats``: on this 2-core VM first-touch page faults make single timings
    swing by +-40%; the minimum is the figure that repeats."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each contender")
    args = parser.parse_args()

    windows = session_windows(CALENDAR, DAY)
    config = SyntheticConfig(
        seed=1,
        bad_tick_rates=dict.fromkeys([r for r in REASON_CODES if r != "missing_price"], 5e-4),
    )
    ticks, t_gen = timed(
        lambda: generate_ticks(
            "SYNA", int(windows[0, 0]), int(windows[0, 1]), config, n_ticks=args.rows
        ).table
    )
    ticks = with_vendor_faults(ticks)
    n = ticks.num_rows
    print(f"rows: {n:,} (generated in {t_gen:.1f} s)")
    cfg = CleaningConfig().for_calendar(CALENDAR)

    ours, t_ours = timed(lambda: clean_ticks(ticks, windows, cfg, calendar=CALENDAR), args.repeats)
    df = ticks.to_pandas()
    present = {
        name: ticks.column(name).is_valid().to_numpy(zero_copy_only=False)
        for name in ("price", "size", "bid_price", "ask_price", "bid_size", "ask_size")
    }

    def pandas_split() -> pd.Series:
        """Same outputs as ours: the reasons, the clean frame, the quarantine with reasons."""
        reason = pandas_clean(df, windows, cfg, present)
        bad = reason.notna()
        _clean, _quarantine = df[~bad], df[bad].assign(reason=reason[bad])
        return reason

    theirs, t_pandas = timed(pandas_split, args.repeats)
    pdf = pl.from_arrow(ticks)
    assert isinstance(pdf, pl.DataFrame)

    def polars_split() -> pl.Series:
        """Same outputs as ours: the reasons, the clean frame, the quarantine with reasons."""
        reason, _possible = polars_clean(pdf, windows, cfg)
        bad = reason.is_not_null()
        _clean, _quarantine = pdf.filter(~bad), pdf.filter(bad).with_columns(reason.filter(bad))
        return reason

    polars_reasons, t_polars = timed(polars_split, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ticks.parquet"

        def round_trip() -> pa.Table:
            pq.write_table(ticks, path, compression="zstd")
            return pq.read_table(path)

        _, t_io = timed(round_trip, args.repeats)

    ours_counts = {k: v for k, v in ours.reason_counts.items() if v}
    theirs_counts = {k: int(v) for k, v in theirs.value_counts().items()}
    ours_labels = _labels(ticks, windows, cfg)
    print(f"reason counts: {dict(sorted(ours_counts.items()))}")
    print(f"possible duplicates kept: {ours.possible_duplicates}; tick size: {ours.tick_size}")
    for label, secs in (
        ("ours (numpy/arrow)", t_ours),
        ("polars", t_polars),
        ("pandas baseline", t_pandas),
        ("parquet write+read", t_io),
    ):
        print(f"{label:<22} {secs:7.2f} s  {n / secs / 1e6:7.2f} M rows/s")
    print(f"speed-up vs polars: {t_polars / t_ours:.2f}x (target >= 1.0x)")
    print(f"speed-up vs pandas: {t_pandas / t_ours:.1f}x (target >= 5x)")
    print(f"cost vs parquet round trip: {t_ours / t_io:.2f}x (target <= 1x)")
    status = 0
    if ours_counts != theirs_counts:
        print(f"MISMATCH: pandas counts {dict(sorted(theirs_counts.items()))}", file=sys.stderr)
        status = 1
    polars_labels = polars_reasons.to_numpy()
    differ = np.flatnonzero(
        (ours_labels != polars_labels) & ~(pd.isna(ours_labels) & pd.isna(polars_labels))
    )
    if differ.size:
        print(
            f"MISMATCH: polars differs on {differ.size} rows, first {differ[:5]}", file=sys.stderr
        )
        status = 1
    return status


def _labels(ticks: pa.Table, windows: np.ndarray, cfg: CleaningConfig) -> np.ndarray:
    """Our reason label per row (None = clean), to compare row by row."""
    from quant_assets.lib.ticks.cleaning import classify

    verdict = classify(ticks, windows, cfg, calendar=CALENDAR).reason
    labels = np.array([None] + [r.value for r in REASONS], dtype=object)[verdict]
    flagged = verdict == REASONS.index(Reason.VENDOR_FLAG) + 1
    labels[flagged] = ticks.column("flag").to_numpy(zero_copy_only=False)[flagged]
    return labels


if __name__ == "__main__":
    sys.exit(main())
