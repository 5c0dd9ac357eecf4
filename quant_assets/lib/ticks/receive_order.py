"""BN-H T4 (trades outside the prevailing quote) for trades and quotes on different clocks, in
bounded memory, for the bounded-memory build (:mod:`streaming_build`).

An exchange websocket dump stamps trades with the exchange's time and book updates only with our
receive time, so the in-memory build (``cleaning._prevailing_like_clocks``) sorts the whole day
by receive time (stable: equal times keep row order) and judges each trade by the last valid
quote before it on that clock. Here each window's valid quotes and still-clean trades are
sorted by receive time into a run on local disk; the runs, in row order, are k-way merged with
ties to the earlier run (the same stable order, a few chunks per run in memory); a sweep carries
the last quote through the merge and appends each trade's verdict to a file per window, which
the next pass reads back in row order. A dump's receive clock is nearly sorted, so each run's
sort and the merge are cheap, but nothing here relies on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from quant_assets.lib.ticks.clean_config import REASONS, CleaningConfig, Reason
from quant_assets.lib.ticks.clean_rules import (
    BoolArray,
    FloatArray,
    ms_to_ns,
    trades_outside_quotes,
)
from quant_assets.lib.ticks.spill_columns import SpillColumn
from quant_assets.lib.ticks.vendor_rules import contiguous

# One valid quote (x = bid, y = ask) or still-clean trade (x = price) at its receive time.
EVENT = np.dtype([("recv", "<i8"), ("row", "<i8"), ("trade", "?"), ("x", "<f8"), ("y", "<f8")])
# A clean trade's verdict at its row: judged fine, outside its quote, or no fresh quote.
VERDICT = np.dtype([("row", "<i8"), ("verdict", "i1"), ("price", "<f8")])
FINE, OUTSIDE, NO_QUOTE = 0, 1, 2
_OUTSIDE_CODE = REASONS.index(Reason.TRADE_OUTSIDE_QUOTES) + 1
_MIN_CHUNK = 16


@dataclass
class _Run:
    path: Path
    size: int
    read: int = 0


@dataclass
class _LastQuote:
    present: bool = False
    recv: int = 0
    bid: float = float("nan")
    ask: float = float("nan")


class ReceiveOrder:
    """The partition's valid quotes and clean trades in receive-time order, spilled by window.

    ``bounds``: the windows' first rows (and the end), as :class:`streaming_build._Spill` has
    them; call :meth:`add` for every window in row order, then :meth:`judge` once."""

    def __init__(self, work: Path, bounds: list[int], window_rows: int) -> None:
        self.work, self.bounds, self.window_rows = work, bounds, window_rows
        self.runs: list[_Run] = []
        self.out = [work / f"verdicts-{i}" for i in range(len(bounds) - 1)]
        for path in self.out:
            path.write_bytes(b"")

    def add(
        self,
        start: int,
        table: pa.Table,
        is_trade: BoolArray,
        price: FloatArray,
        bid: FloatArray,
        ask: FloatArray,
        reason: np.ndarray,
    ) -> None:
        """One window's valid quotes and still-clean trades (``reason == 0``), as a sorted run."""
        rows = np.flatnonzero(reason == 0)
        recv = contiguous(table.column("ts_recv")).cast(pa.int64()).to_numpy()
        events = np.empty(rows.size, dtype=EVENT)
        events["recv"] = recv[rows]
        events["row"] = rows + start
        events["trade"] = is_trade[rows]
        events["x"] = np.where(is_trade[rows], price[rows], bid[rows])
        events["y"] = ask[rows]
        events = events[np.argsort(events["recv"], kind="stable")]
        path = self.work / f"recv-run-{len(self.runs)}"
        events.tofile(path)
        self.runs.append(_Run(path, int(events.size)))

    def judge(
        self, cfg: CleaningConfig, codes: SpillColumn, judged: SpillColumn, prices: SpillColumn
    ) -> None:
        """Every clean trade against the quote prevailing on the receive clock (T4): trades
        outside it marked in ``codes``; those without a fresh quote appended to ``judged``
        (a mask per row) and their prices to ``prices``, for the rolling rule, in row order."""
        self._sweep(cfg)
        for i, (a, b) in enumerate(zip(self.bounds, self.bounds[1:], strict=False)):
            reason = codes.read(a, b)
            mask, unjudged = self.verdicts(i, reason)
            prices.append(unjudged)
            judged.append(mask)
            codes.write_at(a, reason)

    def _sweep(self, cfg: CleaningConfig) -> None:
        last = _LastQuote()
        max_age = ms_to_ns(cfg.max_quote_age_ms)
        for events in self._merged():
            n = events.size
            is_trade = events["trade"]
            prevailing = np.maximum.accumulate(np.where(is_trade, -1, np.arange(n)))
            idx = prevailing + 1  # 0: the quote carried from before
            q_recv = np.concatenate([[last.recv], events["recv"]])
            q_bid = np.concatenate([[last.bid], events["x"]])
            q_ask = np.concatenate([[last.ask], events["y"]])
            exists = (prevailing >= 0) | last.present
            has_quote = exists & (events["recv"] - q_recv[idx] <= max_age)
            outside = trades_outside_quotes(
                is_trade, idx, has_quote, events["x"], q_bid, q_ask, cfg.trade_band_min_bps
            )
            quotes = np.flatnonzero(~is_trade)
            if quotes.size:
                i = int(quotes[-1]) + 1
                last = _LastQuote(True, int(q_recv[i]), float(q_bid[i]), float(q_ask[i]))
            trades = np.flatnonzero(is_trade)
            out = np.empty(trades.size, dtype=VERDICT)
            out["row"] = events["row"][trades]
            out["price"] = events["x"][trades]
            out["verdict"] = np.where(
                outside[trades], OUTSIDE, np.where(has_quote[trades], FINE, NO_QUOTE)
            )
            self._spill(out)
        for run in self.runs:
            run.path.unlink()

    def _spill(self, verdicts: np.ndarray) -> None:
        window = np.searchsorted(self.bounds, verdicts["row"], side="right") - 1
        order = np.argsort(window, kind="stable")
        verdicts, window = verdicts[order], window[order]
        cuts = np.flatnonzero(np.diff(window)) + 1
        for part in np.split(np.arange(window.size), cuts):
            if part.size:
                with self.out[int(window[part[0]])].open("ab") as f:
                    f.write(verdicts[part].tobytes())

    def verdicts(self, index: int, reason: np.ndarray) -> tuple[BoolArray, FloatArray]:
        """Window ``index``'s trades outside their quote marked in ``reason``; the still-clean
        trades without a fresh quote (for the rolling rule) and their prices, in row order."""
        v = np.fromfile(self.out[index], dtype=VERDICT)
        self.out[index].unlink()
        local = v["row"] - self.bounds[index]
        reason[local[v["verdict"] == OUTSIDE]] = _OUTSIDE_CODE
        judged = np.zeros(reason.size, dtype=bool)
        judged[local[v["verdict"] == NO_QUOTE]] = True
        prices = np.zeros(reason.size, dtype=np.float64)
        prices[local] = v["price"]
        return judged, prices[judged]

    def _read(self, run: _Run, count: int) -> np.ndarray:
        n = min(count, run.size - run.read)
        chunk = np.fromfile(run.path, dtype=EVENT, count=n, offset=run.read * EVENT.itemsize)
        run.read += n
        return chunk

    def _merged(self) -> Iterator[np.ndarray]:
        """The runs' events in (receive time, row) order, a bounded batch at a time: every
        buffered event below the smallest last buffered time of a run not yet read through is
        final (the runs are sorted); equal times go by run, i.e. by row."""
        runs = self.runs
        chunk = max(_MIN_CHUNK, self.window_rows // (2 * max(1, len(runs))))
        held = [np.zeros(0, dtype=EVENT) for _ in runs]
        while True:
            for i, run in enumerate(runs):
                if not held[i].size and run.read < run.size:
                    held[i] = self._read(run, chunk)
            live = [i for i, run in enumerate(runs) if run.read < run.size]
            if not live and not any(h.size for h in held):
                return
            bound = min(int(held[i]["recv"][-1]) for i in live) if live else None
            out = []
            for i in range(len(runs)):
                h = held[i]
                cut = h.size if bound is None else int(np.searchsorted(h["recv"], bound))
                out.append(h[:cut])
                held[i] = h[cut:]
            batch = np.concatenate(out)
            if batch.size:
                yield batch[np.argsort(batch["recv"], kind="stable")]
            for i in live:  # the runs holding the bound read on
                if held[i].size and int(held[i]["recv"][-1]) == bound:
                    held[i] = np.concatenate([held[i], self._read(runs[i], chunk)])
