from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quant_assets.lib.storage.object_store import (
    ObjectNotFoundError,
    ObjectStore,
    parquet_num_rows,
)


def table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"x": rng.normal(size=n), "i": np.arange(n)})


def test_object_store_parquet_round_trip_equal(store: ObjectStore) -> None:
    t = table(1000)
    store.write_parquet("ticks_raw/year=2024/month=01/day=02/symbol=SPY/data.parquet", t)
    back = store.read_parquet("ticks_raw/year=2024/month=01/day=02/symbol=SPY/data.parquet")
    assert back.equals(t)
    assert (
        parquet_num_rows(store, "ticks_raw/year=2024/month=01/day=02/symbol=SPY/data.parquet")
        == 1000
    )


def test_object_store_rewrite_replaces_never_duplicates(store: ObjectStore) -> None:
    store.write_parquet("a/data.parquet", table(10))
    store.write_parquet("a/data.parquet", table(7, seed=1))
    assert list(store.list("a")) == ["a/data.parquet"]
    assert store.read_parquet("a/data.parquet").num_rows == 7


def test_object_store_list_move_delete_keys_consistent(store: ObjectStore) -> None:
    store.write_bytes("landing/incoming/x/f.csv", b"a,b\n1,2\n")
    store.write_bytes("landing/incoming/y/g.csv", b"a\n")
    assert list(store.list("landing/incoming")) == [
        "landing/incoming/x/f.csv",
        "landing/incoming/y/g.csv",
    ]
    store.move("landing/incoming/x/f.csv", "landing/archive/x/f.csv")
    assert not store.exists("landing/incoming/x/f.csv")
    assert store.read_bytes("landing/archive/x/f.csv") == b"a,b\n1,2\n"
    store.delete("landing/incoming/y/g.csv")
    assert list(store.list("landing/incoming")) == []


def test_object_store_missing_key_raises_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError, match="nope"):
        store.read_parquet("nope/data.parquet")


@pytest.mark.parametrize("key", ["", "../etc/passwd", "a/../../b"])
def test_object_store_invalid_key_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        store.write_bytes(key, b"x")


def test_object_store_large_file_multipart_round_trip(store: ObjectStore) -> None:
    rng = np.random.default_rng(3)
    big = pa.table({"x": rng.random(3_000_000)})  # ~24 MB incompressible: multipart on S3
    store.write_parquet("big/data.parquet", big)
    assert store.read_parquet("big/data.parquet").num_rows == 3_000_000


def test_object_store_concurrent_reader_sees_whole_old_or_new(store: ObjectStore) -> None:
    key = "p/data.parquet"
    store.write_parquet(key, table(50_000, seed=0))
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(store.read_parquet(key).num_rows)
            except BaseException as exc:  # a torn read would surface here
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(8):
        store.write_parquet(key, table(50_000 if i % 2 else 60_000, seed=i))
    stop.set()
    thread.join()
    assert not errors
    assert seen <= {50_000, 60_000}


def test_object_store_local_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    store.write_parquet("a/data.parquet", table(10))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["data.parquet"]


def test_object_store_copy_equal_bytes_no_temp_left(store: ObjectStore) -> None:
    store.write_parquet("a/src.parquet", table(100))
    store.copy("a/src.parquet", "b/dst.parquet")
    assert store.read_bytes("b/dst.parquet") == store.read_bytes("a/src.parquet")
    assert sorted(store.list("b")) == ["b/dst.parquet"]


def test_object_store_download_streams_one_version(store: ObjectStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    store.write_bytes("landing/x.bin", data)
    store.download("landing/x.bin", tmp_path / "x.bin", chunk_bytes=1000)
    assert (tmp_path / "x.bin").read_bytes() == data
    with pytest.raises(ObjectNotFoundError):
        store.download("landing/missing.bin", tmp_path / "y.bin")


def test_object_store_local_copy_keeps_its_version_when_object_replaced(
    store: ObjectStore, tmp_path: Path
) -> None:
    store.write_bytes("landing/x.csv", b"old\n")
    store.local_copy("landing/x.csv", tmp_path / "x.csv")
    store.write_bytes("landing/x.csv", b"new\n")  # a vendor re-upload replaces the object
    assert (tmp_path / "x.csv").read_bytes() == b"old\n"
    assert store.read_bytes("landing/x.csv") == b"new\n"
    with pytest.raises(ObjectNotFoundError):
        store.local_copy("landing/missing.csv", tmp_path / "y.csv")


def test_object_store_write_parquet_tables_one_row_group_per_table(store: ObjectStore) -> None:
    parts = [table(300, seed) for seed in range(3)]
    store.write_parquet_tables("big/data.parquet", iter(parts))
    assert store.read_parquet("big/data.parquet").equals(pa.concat_tables(parts))
    with store.open_consistent("big/data.parquet") as f:
        assert pq.ParquetFile(f).metadata.num_row_groups == 3
    assert list(store.list("big")) == ["big/data.parquet"]


def test_object_store_write_parquet_tables_failure_keeps_previous(store: ObjectStore) -> None:
    store.write_parquet("big/data.parquet", table(5))

    def failing() -> Iterator[pa.Table]:
        yield table(300)
        raise RuntimeError("source died mid-object")

    with pytest.raises(RuntimeError, match="mid-object"):
        store.write_parquet_tables("big/data.parquet", failing())
    assert store.read_parquet("big/data.parquet").equals(table(5))
    assert list(store.list("big")) == ["big/data.parquet"]
