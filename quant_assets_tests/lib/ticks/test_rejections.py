from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.rejections import (
    Rejection,
    RejectionKind,
    read_rejections,
    write_rejection,
)


def test_rejection_record_round_trip_equal() -> None:
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    rejection = Rejection("auto/x.csv", RejectionKind.UNSUPPORTED, "mbo", at)
    assert Rejection.from_json(rejection.to_json()) == rejection


def test_read_rejections_older_than_since_left_out(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    now = datetime.now(tz=UTC).replace(microsecond=0)
    for name, at in (("old.csv", now - timedelta(hours=1)), ("new.csv", now)):
        rejection = Rejection(f"auto/{name}", RejectionKind.MALFORMED, "bad", at)
        write_rejection(store, f"{landing.REJECTED}/auto/{name}", rejection, "bad\n\ntrace")
    store.write_bytes(f"{landing.REJECTED}/auto/junk.rejection.json", b"{not json")
    found = read_rejections(store, landing.REJECTED, now)
    assert [r.file for r in found] == ["auto/new.csv"]
    assert (
        store.read_bytes(f"{landing.REJECTED}/auto/new.csv.reason.txt")
        .decode()
        .endswith("bad\n\ntrace\n")
    )


def test_ingest_malformed_file_recorded_as_malformed(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    since = datetime.now(tz=UTC)
    store.write_bytes(f"{landing.INCOMING}/auto/bad.csv", b"not,a,tick\nfile\n")
    (f,) = landing.list_incoming(store)
    with pytest.raises(landing.FileRejected) as info:
        landing.ingest(store, f)
    assert info.value.kind is RejectionKind.MALFORMED and not info.value.unsupported
    (rejection,) = read_rejections(store, landing.REJECTED, since)
    assert (rejection.file, rejection.kind) == ("auto/bad.csv", RejectionKind.MALFORMED)
    assert rejection.reason == str(info.value)
