"""The cleaning rules of ``quant_assets.lib.ticks.cleaning`` written in polars expressions, as a
benchmark contender (benchmarks/clean_ticks.py): same rules, same order, same outputs.

Tick-size inference (a few thousand distinct prices) reuses the library's helper; everything
else is polars.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from quant_assets.lib.ticks.cleaning import REASONS, CleaningConfig, Reason, infer_tick_size

CODE = {r: i + 1 for i, r in enumerate(REASONS)}


def _centred(expr: pl.Expr, window: int, n: int, kind: str) -> pl.Expr:
    half = window // 2
    size, min_samples = 2 * half + 1, min(half + 1, n)
    if kind == "median":
        return expr.rolling_median(size, min_samples=min_samples, center=True)
    return expr.rolling_mean(size, min_samples=min_samples, center=True)


def _outliers(x: pl.Series, cfg: CleaningConfig, min_abs: float) -> pl.Series:
    n = x.len()
    if n < cfg.min_outlier_observations:
        return pl.Series(np.zeros(n, dtype=bool))
    frame = pl.DataFrame({"x": x}).with_columns(
        med=_centred(pl.col("x"), cfg.outlier_window, n, "median")
    )
    frame = frame.with_columns(dev=(pl.col("x") - pl.col("med")).abs())
    frame = frame.with_columns(scale=_centred(pl.col("dev"), cfg.outlier_window, n, "mean"))
    limit = cfg.outlier_mads * pl.col("scale") + cfg.outlier_min_bps * 1e-4 * pl.col("med")
    return frame.select(pl.col("dev") > pl.max_horizontal(limit, pl.lit(min_abs)))["dev"]


def polars_clean(
    df: pl.DataFrame, windows: np.ndarray, cfg: CleaningConfig
) -> tuple[pl.Series, int]:
    """Reason label per row (null = clean) and the count of possible duplicates kept."""
    n = df.height
    df = df.with_row_index("_i")
    reason = np.zeros(n, dtype=np.int8)

    def mark(fails: pl.Series | np.ndarray, rule: Reason) -> None:
        f = fails.fill_null(False).to_numpy() if isinstance(fails, pl.Series) else fails
        reason[(reason == 0) & f] = CODE[rule]

    def col(expr: pl.Expr) -> pl.Series:
        return df.select(expr.alias("v"))["v"]

    trade = pl.col("record_type") == "trade"
    quote = ~trade
    mark(col(pl.col("flag").is_not_null()), Reason.VENDOR_FLAG)

    ts = pl.col("ts_event").cast(pl.Int64)
    prev, nxt = ts.shift(1), ts.shift(-1)
    early = col((ts < prev) & (prev <= nxt)).fill_null(False)
    late = col((ts > nxt) & (prev <= nxt)).fill_null(False) & ~early.shift(-1, fill_value=False)
    early = early & ~late.shift(1, fill_value=False)
    mark(early | late, Reason.NON_MONOTONIC_TIME)
    kept = df.filter(pl.Series(reason == 0)).select("_i", behind=ts < ts.cum_max().shift(1))
    behind = np.zeros(n, dtype=bool)
    behind[kept["_i"].to_numpy()] = kept["behind"].fill_null(False).to_numpy()
    mark(behind, Reason.NON_MONOTONIC_TIME)

    columns = [c for c in df.columns if c != "_i"]
    repeat = col(~pl.struct(columns).is_first_distinct())
    identity = col(pl.col("trade_id").is_not_null() | pl.col("sequence").is_not_null())
    policy = {**{s: "evidence" for s in cfg.duplicate_policy}, **cfg.duplicate_policy}
    error = repeat & identity
    for source, rule in policy.items():
        if rule != "evidence":
            of = col(pl.col("source") == source).fill_null(False)
            error = pl.Series(
                np.where(of.to_numpy(), (repeat & (rule == "drop")).to_numpy(), error.to_numpy())
            )
    mark(error, Reason.DUPLICATE)
    possible = repeat & ~error

    def bad(name: str) -> pl.Expr:
        return pl.col(name).is_nan() | pl.col(name).is_infinite()

    mark(
        col(
            pl.when(trade)
            .then(bad("price") | bad("size"))
            .otherwise(bad("bid_price") | bad("ask_price") | bad("bid_size") | bad("ask_size"))
        ),
        Reason.NON_FINITE,
    )

    def big(name: str, limit: float) -> pl.Expr:
        return pl.col(name).is_finite() & (pl.col(name).abs() > limit)

    p, s = cfg.max_price, cfg.max_size
    mark(
        col(
            pl.when(trade)
            .then(big("price", p) | big("size", s))
            .otherwise(
                big("bid_price", p) | big("ask_price", p) | big("bid_size", s) | big("ask_size", s)
            )
        ),
        Reason.ABSURD_VALUE,
    )
    bid, ask = pl.col("bid_price"), pl.col("ask_price")
    mark(
        col(
            pl.when(trade)
            .then(pl.col("price").is_null())
            .otherwise(bid.is_null() | ask.is_null() | (bid == 0) | (ask == 0))
        ),
        Reason.MISSING_PRICE,
    )
    mark(
        col(pl.when(trade).then(pl.col("price") <= 0).otherwise((bid <= 0) | (ask <= 0))),
        Reason.NONPOSITIVE_PRICE,
    )
    mark(
        col(
            pl.when(trade)
            .then(pl.col("size") <= 0)
            .otherwise((pl.col("bid_size") <= 0) | (pl.col("ask_size") <= 0))
        ),
        Reason.NONPOSITIVE_SIZE,
    )
    inside = pl.lit(False)
    for start, end in windows:
        inside = inside | ((ts >= int(start)) & (ts < int(end)))
    mark(col(~inside), Reason.OUTSIDE_SESSION)
    for source, valid in cfg.valid_conditions.items():
        distinct = df.filter(pl.col("source") == source)["conditions"].drop_nulls().unique()
        verdict = {
            v: any(code.strip() and code.strip() not in valid for code in v.split(","))
            for v in distinct.to_list()
        }
        if verdict:
            judged = pl.col("conditions").replace_strict(
                verdict, default=False, return_dtype=pl.Boolean
            )
            mark(col(trade & (pl.col("source") == source) & judged), Reason.INVALID_CONDITION)
    mark(col(quote & (bid > ask)), Reason.CROSSED_QUOTE)
    mark(col(quote & (bid == ask)), Reason.LOCKED_QUOTE)

    is_quote = col(quote).to_numpy()
    is_trade = ~is_quote
    ok = pl.Series(is_quote & (reason == 0))
    q = df.filter(ok).select("_i", spread=ask - bid, mid=(ask + bid) / 2)
    if q.height:
        med = q["spread"].median()
        wide_q = q.select(
            "_i",
            w=(pl.col("spread") > cfg.spread_median_multiple * med)
            & (pl.col("spread") > cfg.wide_spread_min_bps * 1e-4 * pl.col("mid")),
        )
        wide = np.zeros(n, dtype=bool)
        wide[wide_q["_i"].to_numpy()] = wide_q["w"].to_numpy()
        mark(wide, Reason.WIDE_SPREAD)

    clean_trades = pl.Series(is_trade & (reason == 0))
    ok = pl.Series(is_quote & (reason == 0))
    q = df.filter(ok)
    prices = np.concatenate(
        [
            df.filter(clean_trades)["price"].to_numpy(),
            q["bid_price"].to_numpy(),
            q["ask_price"].to_numpy(),
        ]
    )
    tick = infer_tick_size(prices) if n else None
    min_abs = cfg.outlier_min_ticks * tick if tick else 0.0

    out = np.zeros(n, dtype=bool)
    out[q["_i"].to_numpy()] = _outliers(
        (q["bid_price"] + q["ask_price"]) * 0.5, cfg, min_abs
    ).to_numpy()
    mark(out, Reason.PRICE_OUTLIER)

    ok = pl.Series(is_quote & (reason == 0))
    prevailing = df.with_columns(
        qb=pl.when(ok).then(bid).forward_fill(),
        qa=pl.when(ok).then(ask).forward_fill(),
        qt=pl.when(ok).then(ts).forward_fill(),
    )
    max_age = (
        np.iinfo(np.int64).max
        if np.isinf(cfg.max_quote_age_ms)
        else int(cfg.max_quote_age_ms * 1e6)
    )
    band = pl.max_horizontal(
        pl.col("qa") - pl.col("qb"),
        cfg.trade_band_min_bps * 1e-4 * (pl.col("qa") + pl.col("qb")) * 0.5,
    )
    fresh = prevailing.select(
        f=pl.col("qt").is_not_null() & ((ts - pl.col("qt")) <= max_age),
    )[
        "f"
    ].fill_null(False)
    outside = prevailing.select(
        o=(pl.col("price") < pl.col("qb") - band) | (pl.col("price") > pl.col("qa") + band)
    )["o"].fill_null(False)
    mark(pl.Series(is_trade) & fresh & outside, Reason.TRADE_OUTSIDE_QUOTES)

    lone = pl.Series(is_trade & ~fresh.to_numpy() & (reason == 0))
    t = df.filter(lone)
    out = np.zeros(n, dtype=bool)
    out[t["_i"].to_numpy()] = _outliers(t["price"], cfg, min_abs).to_numpy()
    mark(out, Reason.PRICE_OUTLIER)

    labels = np.array([None] + [r.value for r in REASONS], dtype=object)[reason]
    flag_rows = reason == CODE[Reason.VENDOR_FLAG]
    if flag_rows.any():
        labels[flag_rows] = df["flag"].to_numpy()[flag_rows]
    reasons = pl.Series("reason", labels, dtype=pl.String)
    return reasons, int((possible.to_numpy() & (reason == 0)).sum())
