"""Peak memory of reading vendor files that used to be read whole, at two file sizes.

Generates, at ``--rows`` sizes, a Coinbase websocket recording (JSON lines after a receive-time
prefix, trades and tickers mixed: the packaged ``coinbase_ws`` mapping) and a one-sided equity
quote CSV (each row updates the bid or the ask, the other side 0; a ``quote_book = "venue"``
mapping carries the sides), and runs in a child process per file ``quant mapping check``, which
reads the file as landing does (record batches, quote book carried across them) and keeps only
counts and the first rows. With ``../shared`` present, also a Databento DBN ``mbp-1`` file made by
repeating the records of the shared ESU4 sample (skipped, and said so, without it). Prints each
child's peak RSS (``os.wait4``) and the growth ratio of
the large file over the small one: memory that follows the batch, not the file, gives ~1x.

    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/reader_memory.py
    PYTHONPATH=$PWD nice -n 19 .venv/bin/python benchmarks/reader_memory.py --rows 2000000 10000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

CHUNK = 1_000_000
START_NS = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC, the NYSE open
QUOTE_MAPPING = """\
format = "csv"
record_type = "quote"
quote_book = "venue"

[columns]
ts_event = "ts"
symbol = "sym"
exchange = "ex"
bid_price = "bid"
bid_size = "bid_size"
ask_price = "ask"
ask_size = "ask_size"

[time]
unit = "ns"

[nulls]
bid_price = ["0"]
ask_price = ["0"]
"""


def _chunks(rows: int) -> list[int]:
    return [min(CHUNK, rows - start) for start in range(0, rows, CHUNK)]


def write_jsonl(path: Path, rows: int, rng: np.random.Generator) -> None:
    """Every fourth message a ticker, the rest matches; receive time prefix in ns."""
    with path.open("wb") as sink:
        done = 0
        for n in _chunks(rows):
            i = np.arange(done, done + n)
            recv = pa.array(START_NS + i * 1_000_000).cast(pa.string())
            stamp = pc.strftime(
                pa.array(START_NS + i * 1_000_000, pa.timestamp("ns", tz="UTC")),
                format="%Y-%m-%dT%H:%M:%S",
            )
            price = pa.array(np.round(40_000 + rng.normal(0, 5, n), 2)).cast(pa.string())
            size = pa.array(np.round(rng.uniform(0.001, 2, n), 4)).cast(pa.string())
            seq = pa.array(i).cast(pa.string())
            match = pc.binary_join_element_wise(
                recv,
                ' {"type":"match","trade_id":',
                seq,
                ',"sequence":',
                seq,
                ',"time":"',
                stamp,
                'Z","product_id":"BTC-USD","size":"',
                size,
                '","price":"',
                price,
                '","side":"sell"}',
                "",
            )
            ticker = pc.binary_join_element_wise(
                recv,
                ' {"type":"ticker","sequence":',
                seq,
                ',"product_id":"BTC-USD","best_bid":"',
                price,
                '","best_bid_size":"',
                size,
                '","best_ask":"',
                pc.cast(pc.add(pc.cast(price, pa.float64()), 0.01), pa.string()),
                '","best_ask_size":"',
                size,
                '","time":"',
                stamp,
                'Z"}',
                "",
            )
            lines = pc.if_else(pa.array(i % 4 == 3), ticker, match)
            sink.write(("\n".join(lines.to_pylist()) + "\n").encode())
            done += n


def write_quotes(path: Path, rows: int, rng: np.random.Generator) -> None:
    """One symbol's one-sided quote updates on four venues over one session."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    path.write_text("ts,sym,ex,bid,bid_size,ask,ask_size\n")
    venues = pa.array(list("NPQZ"))
    span = 6 * 3600 * 10**9  # inside the regular session
    with path.open("ab") as sink:
        done = 0
        for n in _chunks(rows):
            i = np.arange(done, done + n)
            bid_side = rng.random(n) < 0.5
            mid = np.round(13.75 + rng.normal(0, 0.01, n), 2)
            table = pa.table(
                {
                    "ts": pa.array(START_NS + i * (span // rows)),
                    "sym": pa.array(np.full(n, "ABCD")),
                    "ex": venues.take(pa.array(rng.integers(0, 4, n))),
                    "bid": pa.array(np.where(bid_side, mid - 0.01, 0.0)),
                    "bid_size": pa.array(rng.integers(1, 50, n) * 100),
                    "ask": pa.array(np.where(bid_side, 0.0, mid + 0.01)),
                    "ask_size": pa.array(rng.integers(1, 50, n) * 100),
                }
            )
            pacsv.write_csv(table, sink, write_options=options)
            done += n


def check_peak_rss(path: Path, source: str) -> tuple[float, float, str]:
    """``quant mapping check`` in a child: (peak RSS GB, seconds, its 'rows:' line)."""
    code = "import sys; from quant_assets.cli import main; sys.exit(main())"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "mapping", "check", str(path), "--source", source],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"mapping check of {path.name} failed:\n{out}")
    rows = next((line for line in out.splitlines() if line.startswith("rows:")), "?")
    return usage.ru_maxrss * 1024 / 1e9, seconds, rows


DBN_SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "shared/data/ticks/nautilus_trader/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
)


def write_dbn(path: Path, rows: int, rng: np.random.Generator) -> None:
    """An uncompressed DBN file of ``rows`` mbp-1 records: the sample's records repeated."""
    raw = bytes(pa.input_stream(str(DBN_SAMPLE), compression="zstd").read())
    end = 8 + int.from_bytes(raw[4:8], "little")
    body = raw[end:]
    size = body[0] * 4
    records = len(body) // size
    with path.open("wb") as out:
        out.write(raw[:end])
        left = rows
        while left > 0:
            take = min(left, records)
            out.write(body[: take * size])
            left -= take


def generate_in_child(kind: str, path: Path, rows: int) -> None:
    """Write a file in a child process: a parent grown by generating would be copied into
    every child it forks, and ``ru_maxrss`` would report the parent's size, not the child's."""
    subprocess.run([sys.executable, __file__, "--generate", kind, str(path), str(rows)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs=2, default=[1_000_000, 5_000_000])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument(
        "--only", choices=["jsonl", "quotes", "dbn"], default=None, help="one file kind"
    )
    args = parser.parse_args()
    print(f"machine load average (1, 5, 15 min): {os.getloadavg()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="reader-memory-") as tmp:
        root = Path(tmp)
        mapping = root / "one_sided_quotes.toml"
        mapping.write_text(QUOTE_MAPPING)
        kinds = (
            ("JSON lines (coinbase_ws)", "ws.jsonl", "jsonl", "coinbase_ws"),
            ("one-sided quotes (quote_book)", "quotes.csv", "quotes", str(mapping)),
            ("Databento DBN mbp-1", "esu4.mbp-1.dbn", "dbn", "databento"),
        )
        for label, name, kind, source in kinds:
            if args.only not in (None, kind):
                continue
            if kind == "dbn" and not DBN_SAMPLE.is_file():
                print(f"{label}: skipped, the shared sample {DBN_SAMPLE} is not present")
                continue
            peaks = []
            for rows in args.rows:
                path = root / f"{rows}-{name}"
                generate_in_child(kind, path, rows)
                size_mb = path.stat().st_size / 1e6
                peak, seconds, parsed = check_peak_rss(path, source)
                peaks.append(peak)
                print(
                    f"{label}: {rows:,} rows, {size_mb:,.0f} MB: peak RSS {peak:.2f} GB "
                    f"in {seconds:.1f} s ({parsed})"
                )
                path.unlink()
            print(
                f"{label}: peak RSS growth {peaks[1] / peaks[0]:.2f}x for "
                f"{args.rows[1] / args.rows[0]:.0f}x the rows (target ~1x)"
            )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--generate":
        write = {"jsonl": write_jsonl, "quotes": write_quotes, "dbn": write_dbn}[sys.argv[2]]
        write(Path(sys.argv[3]), int(sys.argv[4]), np.random.default_rng(int(sys.argv[4])))
    else:
        main()
