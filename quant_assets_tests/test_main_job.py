from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.main_job import rejections


def test_rejections_since_one_line_per_file_of_this_run(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    old = (datetime.now(tz=UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    store.write_bytes("landing/rejected/auto/old.csv.reason.txt", f"{old} earlier\n".encode())
    since = datetime.now(tz=UTC)
    store.write_bytes("landing/incoming/auto/bad.csv", b"not,a,tick\nfile\n")
    (bad,) = landing.list_incoming(store)
    landing.reject(store, bad, "line 2, column 1: no timestamp\n  detail on a second line")
    assert rejections(store, since) == ({"auto/bad.csv": "line 2, column 1: no timestamp"}, {})


def test_rejections_unsupported_kind_reported_apart(tmp_path: Path) -> None:
    """A well-formed file of a kind deliberately not read (DBN mbo) does not fail the demo."""
    store = ObjectStore.local(tmp_path)
    since = datetime.now(tz=UTC)
    store.write_bytes("landing/incoming/auto/book.mbo.dbn.zst", b"x")
    (f,) = landing.list_incoming(store)
    trace = "Traceback ...\nquant_assets.lib.ticks.adapters.errors.UnsupportedFileError: mbo"
    landing.reject(store, f, f"book.mbo.dbn.zst: DBN schema mbo is not supported\n\n{trace}")
    malformed, unsupported = rejections(store, since)
    assert malformed == {}
    assert unsupported == {
        "auto/book.mbo.dbn.zst": "book.mbo.dbn.zst: DBN schema mbo is not supported"
    }
