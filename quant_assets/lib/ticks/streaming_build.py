"""One (session, symbol) partition built in bounded memory, with the in-memory build's output.

:func:`pipeline.build_symbol` cleans a partition whole when it has at most
``CleaningConfig.max_rows_in_memory`` rows; above that it comes here, where no more than a
window of rows (that many) is in memory at once. The rules need four things wider than a window,
each computed exactly (docs/cleaning_rules.md, "Bounded memory"):

1. **Merge** (:mod:`merge_stream`): staged pieces k-way merged in the order of
   :func:`lake.merge_pieces`; the merged rows go to a local Arrow file in windows, their times
   and row hashes to spill columns (:mod:`spill_columns`), the raw object to the store.
2. **Pass 1**, the row-local and sequential rules (vendor flag to locked quote): a time spike
   needs two rows each side, the running maximum of kept times is carried, and exact duplicates
   are found against a carried set of the (time, hash) pairs at or after that maximum: a kept
   row is never behind it, so its earlier twin is still in the set. The valid quotes' spreads
   are spilled; their exact median follows (radix selection on disk).
3. **Pass 2**: wide spreads; the prices the tick size is inferred from and the valid quotes'
   mids are spilled; the quote rolling-median rule runs over the mids in the fixed blocks of
   :func:`clean_rules.rolling_outlier_blocks`, as the in-memory rule does.
4. **Pass 3**: quote outliers applied, the prevailing quote carried from window to window
   (trades outside quotes; on different clocks, in receive-time order by :mod:`receive_order`);
   the prices of trades without a fresh quote are spilled and judged by the rolling rule
   likewise. **Pass 4** applies it and writes clean and quarantine row group by row group,
   their content versions from the spilled raw hashes.

Objects are written under temporary keys and moved to their content-named keys; nothing is
committed here (the manifest commit and the sweep are the caller's, as for the in-memory build).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from quant_assets.lib.scratch import scratch_dir
from quant_assets.lib.storage.object_store import PARQUET_COMPRESSION, ObjectStore
from quant_assets.lib.ticks.clean_config import REASONS, CleaningConfig, Reason
from quant_assets.lib.ticks.clean_rules import IntArray, rolling_outlier_blocks
from quant_assets.lib.ticks.lake import Dataset, Digest, partition_object, partition_prefix
from quant_assets.lib.ticks.merge_stream import keyed, merged, rechunk, times
from quant_assets.lib.ticks.receive_order import ReceiveOrder
from quant_assets.lib.ticks.row_hash import mix_column, row_hashes
from quant_assets.lib.ticks.schema import TICK_SCHEMA
from quant_assets.lib.ticks.spill_columns import SpillColumn, exact_median
from quant_assets.lib.ticks.stream_rules import (
    Carry,
    QuoteCarry,
    Window,
    first_rules,
    judge_by_quotes,
    wide_spread_rule,
)
from quant_assets.lib.ticks.vendor_rules import infer_tick_size

_ONE_AT_A_TIME = threading.Lock()  # a chunk's build threads: one big partition at a time
_LABELS = np.array([r.value for r in REASONS], dtype=object)
_QUARANTINE_SCHEMA = TICK_SCHEMA.append(pa.field("reason", pa.string()))
_OUTLIER = REASONS.index(Reason.PRICE_OUTLIER) + 1
_FLAG = REASONS.index(Reason.VENDOR_FLAG) + 1


@dataclass(frozen=True)
class StreamedPartition:
    raw_key: str
    clean_key: str
    quarantine_key: str
    raw_rows: int
    clean_rows: int
    quarantined_rows: int
    reason_counts: dict[str, int]
    possible_duplicates: int
    tick_size: float | None


@dataclass(frozen=True)
class Partition:
    """The (session, symbol) being built, its calendar's sessions and the cleaning config."""

    session: date
    symbol: str
    calendar: str | None
    session_windows: IntArray
    config: CleaningConfig

    def key(self, dataset: str, version: str) -> str:
        return partition_object(dataset, self.session, self.symbol, version)


class _Output:
    """A Parquet object written row group by row group under a temporary key."""

    def __init__(
        self, store: ObjectStore, part: Partition, dataset: str, schema: pa.Schema
    ) -> None:
        self.store, self.part, self.dataset = store, part, dataset
        prefix = partition_prefix(dataset, part.session, part.symbol)
        self.tmp = f"{prefix}/.tmp-{uuid.uuid4().hex}"
        self._sink = store.open_output(self.tmp)
        self._writer = pq.ParquetWriter(self._sink, schema, compression=PARQUET_COMPRESSION)
        self.digest = Digest()

    def write(self, table: pa.Table, hashes: np.ndarray) -> None:
        if table.num_rows:
            self._writer.write_table(table)
        self.digest.add(hashes)

    def commit(self) -> str:
        """Close and move to the content-named key (kept as is when already there)."""
        self._writer.close()
        self._sink.close()
        key = self.part.key(self.dataset, self.digest.version)
        if self.store.exists(key):
            self.store.delete(self.tmp)
        else:
            self.store.move(self.tmp, key)
        return key

    def abort(self) -> None:
        try:
            self._writer.close()
            self._sink.close()
        finally:
            self.store.delete(self.tmp)


def footer(store: ObjectStore, key: str) -> pq.FileMetaData:
    """A staged piece's Parquet footer, read alone (on S3 too: a range read, not the object)."""
    return pq.read_metadata(store.path(key), filesystem=store.filesystem)


def _piece_chunks(store: ObjectStore, key: str, rows: int) -> Iterator[pa.Table]:
    for group in store.iter_row_groups(key):
        for start in range(0, group.num_rows, rows):
            yield group.slice(start, rows)


class _Spill:
    """The partition's merged rows (an Arrow file of windows) and its per-row spill columns."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.rows_path = work / "rows.arrow"
        self.bounds: list[int] = [0]
        self.ts = SpillColumn(work / "ts", np.int64)
        self.hashes = SpillColumn(work / "hashes", np.uint64)
        self.codes = SpillColumn(work / "codes", np.int8)
        self.possible = SpillColumn(work / "possible", np.bool_)
        self.judged = SpillColumn(work / "judged", np.bool_)

    def column(self, name: str, dtype: type) -> SpillColumn:
        return SpillColumn(self.work / name, dtype)

    def windows(self) -> Iterator[tuple[int, int, pa.Table]]:
        with pa.OSFile(str(self.rows_path)) as f:
            reader = pa.ipc.open_file(f)
            for i in range(reader.num_record_batches):
                table = pa.Table.from_batches([reader.get_batch(i)])
                yield self.bounds[i], self.bounds[i + 1], table


def _merge(
    store: ObjectStore,
    keys: list[str],
    synthetic: pa.Table | None,
    spill: _Spill,
    window_rows: int,
    raw: _Output | None,
) -> Digest:
    sources: list[Iterator[pa.Table]] = [_piece_chunks(store, k, window_rows) for k in keys]
    if synthetic is not None and synthetic.num_rows:
        sources.append(iter([synthetic]))
    if len(sources) == 1:  # one piece: its order is the merge order already
        stream: Iterator[pa.Table] = (t for _, t in keyed(sources[0], window_rows))
    else:
        size = max(2, window_rows // (2 * len(sources)))
        stream = merged([keyed(s, size) for s in sources])
    digest = Digest()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with (
        pa.OSFile(str(spill.rows_path), "wb") as sink,
        pa.ipc.new_file(sink, TICK_SCHEMA, options=options) as out,
    ):
        for window in rechunk(stream, window_rows):
            hashes = row_hashes(window)
            spill.ts.append(times(window))
            spill.hashes.append(hashes)
            digest.add(hashes)
            out.write_table(window)
            if raw is not None:
                raw.write(window, hashes)
            spill.bounds.append(spill.bounds[-1] + window.num_rows)
    return digest


def build_streaming(
    store: ObjectStore,
    part: Partition,
    keys: list[str],
    synthetic: pa.Table | None,
    spill_dir: Path | None = None,
) -> StreamedPartition:
    """Write raw, clean and quarantine of one partition in windows of
    ``config.max_rows_in_memory`` rows."""
    with _ONE_AT_A_TIME, scratch_dir("clean-spill", spill_dir) as tmp:
        spill = _Spill(tmp)
        outputs: list[_Output] = []
        try:
            return _build(store, part, keys, synthetic, spill, outputs)
        except BaseException:
            for o in outputs:
                o.abort()
            raise


def _build(
    store: ObjectStore,
    part: Partition,
    keys: list[str],
    synthetic: pa.Table | None,
    spill: _Spill,
    outputs: list[_Output],
) -> StreamedPartition:
    cfg = part.config.for_calendar(part.calendar)
    window_rows = max(2, part.config.max_rows_in_memory)
    alone = len(keys) == 1 and (synthetic is None or not synthetic.num_rows)
    canonical = alone and footer(store, keys[0]).schema.to_arrow_schema() == TICK_SCHEMA
    copy_from = keys[0] if canonical else None
    raw = None if copy_from else _Output(store, part, Dataset.RAW, TICK_SCHEMA)
    if raw is not None:
        outputs.append(raw)
    raw_digest = _merge(store, keys, synthetic, spill, window_rows, raw)

    # Pass 1: rules up to locked quotes; the valid quotes' spreads.
    carry = Carry()
    spreads = spill.column("spreads", np.float64)
    for a, b, table in spill.windows():
        w = Window.of(table)
        after = np.asarray(spill.ts.read(b, b + 2), dtype=np.int64)
        hashes = spill.hashes.read(a, b)
        reason, possible = first_rules(
            w, after, hashes, carry, cfg, part.session_windows, part.calendar
        )
        spill.codes.append(reason)
        spill.possible.append(possible)
        quotes = ~w.is_trade & (reason == 0)
        spreads.append(w.ask[quotes] - w.bid[quotes])
    mixed_clocks = carry.receive_clock and carry.exchange_clock and not carry.recv_nulls
    median = exact_median(spreads) if len(spreads) else 0.0
    spreads.path.unlink()

    # Pass 2: wide spreads; the tick grid's prices; the valid quotes' mids.
    configured = [cfg.tick_sizes[s] for s in carry.symbols if s in cfg.tick_sizes]
    grid = [spill.column(n, np.float64) for n in ("grid_trades", "grid_bids", "grid_asks")]
    mids = spill.column("mids", np.float64)
    for a, b, table in spill.windows():
        w = Window.of(table)
        reason = spill.codes.read(a, b)
        wide_spread_rule(w, reason, median, cfg)
        quotes = ~w.is_trade & (reason == 0)
        if not configured:
            prices = (w.price[w.is_trade & (reason == 0)], w.bid[quotes], w.ask[quotes])
            for col, values in zip(grid, prices, strict=True):
                col.append(values[np.isfinite(values) & (values > 0)])
        mids.append((w.bid[quotes] + w.ask[quotes]) * 0.5)
        spill.codes.write_at(a, reason)
    tick = float(min(configured)) if configured else _grid_tick(grid)
    min_abs = cfg.outlier_min_ticks * tick if tick else 0.0
    quote_verdicts = _rolling(mids, spill.column("quote_outliers", np.bool_), cfg, min_abs)

    # Pass 3: quote outliers; trades judged by the prevailing quote; the rest's prices.
    # On different clocks, by the quote prevailing in receive-time order (receive_order.py).
    quote_carry = QuoteCarry()
    unjudged = spill.column("unjudged_prices", np.float64)
    order = ReceiveOrder(spill.work, spill.bounds, window_rows) if mixed_clocks else None
    q = 0
    for a, b, table in spill.windows():
        w = Window.of(table)
        reason = spill.codes.read(a, b)
        quotes = np.flatnonzero(~w.is_trade & (reason == 0))
        outlier = quotes[quote_verdicts.read(q, q + quotes.size)]
        q += quotes.size
        reason[outlier] = _OUTLIER
        if order is not None:
            order.add(a, table, w.is_trade, w.price, w.bid, w.ask, reason)
        else:
            judged = judge_by_quotes(w, reason, quote_carry, cfg)
            unjudged.append(w.price[judged])
            spill.judged.append(judged)
        spill.codes.write_at(a, reason)
    if order is not None:
        order.judge(cfg, spill.codes, spill.judged, unjudged)
    trade_verdicts = _rolling(unjudged, spill.column("trade_outliers", np.bool_), cfg, min_abs)

    # Pass 4: trade outliers; clean and quarantine written with their versions.
    clean = _Output(store, part, Dataset.CLEAN, TICK_SCHEMA)
    outputs.append(clean)
    quarantine = _Output(store, part, Dataset.QUARANTINE, _QUARANTINE_SCHEMA)
    outputs.append(quarantine)
    counts = np.zeros(len(REASONS) + 1, dtype=np.int64)
    flag_labels: Counter[str] = Counter()
    possible_total = t = 0
    for a, b, table in spill.windows():
        reason = spill.codes.read(a, b)
        unjudged_rows = np.flatnonzero(spill.judged.read(a, b))
        reason[unjudged_rows[trade_verdicts.read(t, t + unjudged_rows.size)]] = _OUTLIER
        t += unjudged_rows.size
        hashes = spill.hashes.read(a, b)
        counts += np.bincount(reason, minlength=len(REASONS) + 1)
        possible_total += int((spill.possible.read(a, b) & (reason == 0)).sum())
        good = np.flatnonzero(reason == 0)
        clean.write(table.take(good), hashes[good])
        bad = np.flatnonzero(reason != 0)
        rows = table.take(bad)
        labels = pa.array(_LABELS[reason[bad] - 1], type=pa.string())
        flagged = reason[bad] == _FLAG
        if flagged.any():
            labels = pc.if_else(pa.array(flagged), rows.column("flag").combine_chunks(), labels)
            flag_labels.update(pc.filter(labels, pa.array(flagged)).to_pylist())
        quarantined = hashes[bad]
        if bad.size:
            mix_column(quarantined, labels)
        quarantine.write(rows.append_column("reason", labels), quarantined)

    reason_counts = {
        r.value: int(counts[i + 1]) for i, r in enumerate(REASONS) if r is not Reason.VENDOR_FLAG
    }
    reason_counts.update(flag_labels)
    if copy_from is None:
        assert raw is not None
        raw_key = raw.commit()
    else:
        raw_key = part.key(Dataset.RAW, raw_digest.version)
        if not store.exists(raw_key):
            store.copy(copy_from, raw_key)
    return StreamedPartition(
        raw_key=raw_key,
        clean_key=clean.commit(),
        quarantine_key=quarantine.commit(),
        raw_rows=raw_digest.rows,
        clean_rows=clean.digest.rows,
        quarantined_rows=quarantine.digest.rows,
        reason_counts=reason_counts,
        possible_duplicates=possible_total,
        tick_size=tick,
    )


def _grid_tick(grid: list[SpillColumn]) -> float | None:
    """:func:`vendor_rules.infer_tick_size` of the three price streams concatenated, from the
    same every-k-th sample it takes (read from disk, never the whole day)."""
    n = sum(len(c) for c in grid)
    if n < 20:
        return None
    step = n // 100_000 if n > 100_000 else 1
    chunk = step * max(1, 4_000_000 // step)  # a multiple of step: same phase in every chunk
    sample, offset = [], 0
    for col in grid:
        first = -offset % step  # the column's first sampled position
        # copies: a strided view would keep each whole chunk alive
        sample += [col.read(s, s + chunk)[first::step].copy() for s in range(0, len(col), chunk)]
        offset += len(col)
    # The sample has < 200,000 values, so infer_tick_size does not subsample it again.
    return infer_tick_size(np.concatenate(sample))


def _rolling(
    values: SpillColumn, out: SpillColumn, cfg: CleaningConfig, min_abs: float
) -> SpillColumn:
    for verdict in rolling_outlier_blocks(
        lambda a, b: np.asarray(values.read(a, b), dtype=np.float64),
        len(values),
        cfg.outlier_window,
        cfg.outlier_mads,
        cfg.min_outlier_observations,
        cfg.outlier_min_bps,
        min_abs,
    ):
        out.append(verdict)
    return out
