"""One object-store interface over two real backends: local filesystem and S3.

Both go through ``pyarrow.fs`` so Parquet I/O is identical; only atomic replacement differs:
a local write lands in a temporary file and is renamed into place, an S3 PUT (single or
multipart) is already all-or-nothing, so readers never see a half-written object on either.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import posixpath
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from quant_assets.lib.scratch import scratch_dir

PARQUET_COMPRESSION = "zstd"


class ObjectNotFoundError(FileNotFoundError):
    """The requested key does not exist in the store."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    mtime_ns: int

    @property
    def version(self) -> str:
        """Changes when the object is replaced: what sensors use to tell a re-dropped file."""
        return f"{self.size}-{self.mtime_ns}"


class ObjectStore:
    """Keys are '/'-separated paths relative to the store root (``ticks_raw/year=2024/...``)."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        root: str,
        *,
        atomic_rename: bool,
        uri_scheme: str,
        s3: S3Location | None = None,
    ):
        self._fs = fs
        self._root = root.rstrip("/")
        self._atomic_rename = atomic_rename
        self._scheme = uri_scheme
        self._s3 = s3
        self._s3_client: Any = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def local(cls, root: Path | str) -> ObjectStore:
        path = Path(root).expanduser().absolute()
        path.mkdir(parents=True, exist_ok=True)
        return cls(pafs.LocalFileSystem(), str(path), atomic_rename=True, uri_scheme="file://")

    @classmethod
    def s3(cls, loc: S3Location) -> ObjectStore:
        # pyarrow >= 21 adds checksums some S3 servers reject on multipart uploads.
        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
        kwargs: dict[str, object] = {}
        if loc.endpoint_url:
            scheme, _, host = loc.endpoint_url.partition("://")
            kwargs["endpoint_override"] = host or scheme
            kwargs["scheme"] = scheme if host else "https"
        if loc.region:
            kwargs["region"] = loc.region
        if loc.access_key and loc.secret_key:
            kwargs["access_key"] = loc.access_key
            kwargs["secret_key"] = loc.secret_key
        fs = pafs.S3FileSystem(**kwargs)  # type: ignore[arg-type]
        root = posixpath.join(loc.bucket, loc.prefix.strip("/")) if loc.prefix else loc.bucket
        return cls(fs, root, atomic_rename=False, uri_scheme="s3://", s3=loc)

    # -- paths --------------------------------------------------------------------------------
    def path(self, key: str) -> str:
        """Backend path of ``key`` (``bucket/prefix/key`` on S3, an absolute path locally)."""
        key = key.strip("/")
        if not key or ".." in key.split("/"):
            raise ValueError(f"invalid object key {key!r}")
        return f"{self._root}/{key}"

    def uri(self, key: str) -> str:
        return self._scheme + self.path(key)

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self._fs

    # -- reads --------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self._fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def read_bytes(self, key: str) -> bytes:
        if self._s3 is not None:
            return self._s3_get(key)
        try:
            with self._fs.open_input_stream(self.path(key), compression=None) as f:
                return bytes(f.readall())
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(self.uri(key)) from exc

    def download(self, key: str, local: Path, chunk_bytes: int = 16 << 20) -> None:
        """Copy one version of the object to ``local`` in chunks (one GET on S3), never holding
        the whole object in memory: vendor files can be many GB."""
        try:
            if self._s3 is not None:
                self._s3_download(key, local, chunk_bytes)
                return
            src = self._fs.open_input_stream(self.path(key), compression=None)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(self.uri(key)) from exc
        with src, local.open("wb") as dst:
            while chunk := src.read(chunk_bytes):
                dst.write(chunk)

    def local_copy(self, key: str, local: Path) -> None:
        """A read-only local file holding one version of the object: a hard link on a local
        store when ``local`` is on its filesystem (writes here replace objects by rename, so
        the link keeps this version; no copy of a multi-GB vendor file), else a download.
        Never write to ``local``: it may share the object's bytes."""
        if self._s3 is None and isinstance(self._fs, pafs.LocalFileSystem):
            try:
                os.link(self.path(key), local)
                return
            except FileNotFoundError as exc:
                raise ObjectNotFoundError(self.uri(key)) from exc
            except OSError:
                pass  # another filesystem, or links not allowed: copy
        self.download(key, local)

    def open_consistent(self, key: str) -> pa.NativeFile:
        """A seekable view of one version of the object.

        A local open file keeps its inode across a rename. On S3 each range read is a separate
        GET that may hit a newer version (a Parquet footer from one write, pages from the
        next), so the object is fetched in one GET instead.
        """
        if self._atomic_rename:
            try:
                return self._fs.open_input_file(self.path(key))
            except FileNotFoundError as exc:
                raise ObjectNotFoundError(self.uri(key)) from exc
        return pa.BufferReader(self.read_bytes(key))

    def iter_row_groups(self, key: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """One version of a Parquet object, a row group at a time (memory follows the row
        group, not the object): opened in place locally, streamed to local scratch on S3
        first (a read there fetches the object whole)."""
        with contextlib.ExitStack() as stack:
            if self._atomic_rename:
                source = stack.enter_context(self.open_consistent(key))
            else:
                local = stack.enter_context(scratch_dir("row-groups")) / "object.parquet"
                self.download(key, local)
                source = stack.enter_context(pa.OSFile(str(local)))
            parquet = pq.ParquetFile(source)  # read_row_group: iter_batches keeps ~8 B/row
            for i in range(parquet.num_row_groups):
                yield parquet.read_row_group(i, columns=columns)

    def read_parquet(self, key: str, columns: list[str] | None = None) -> pa.Table:
        with self.open_consistent(key) as f:
            return pq.read_table(f, columns=columns)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield keys of all files under ``prefix`` (recursive), sorted."""
        for info in self.list_info(prefix):
            yield info.key

    def list_info(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Files under ``prefix`` (recursive) with size and modification time, sorted by key."""
        base = self.path(prefix) if prefix.strip("/") else self._root
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        start = len(self._root) + 1
        return [
            ObjectInfo(
                key=info.path[start:],
                size=int(info.size or 0),
                mtime_ns=int(info.mtime_ns or 0),
            )
            for info in sorted(self._fs.get_file_info(selector), key=lambda i: i.path)
            if info.type == pafs.FileType.File
        ]

    # -- writes -------------------------------------------------------------------------------
    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda path: self._write_stream(path, data))

    def write_parquet(self, key: str, table: pa.Table, **options: Any) -> None:
        """Replace ``key`` with ``table`` atomically (readers see the old or the new file);
        ``options`` go to ``pyarrow.parquet.write_table`` (e.g. ``use_dictionary``)."""
        self._atomic_write(
            key,
            lambda path: pq.write_table(
                table, path, filesystem=self._fs, compression=PARQUET_COMPRESSION, **options
            ),
        )

    def write_parquet_tables(self, key: str, tables: Iterable[pa.Table], **options: Any) -> None:
        """Replace ``key`` with the rows of ``tables``, written one table at a time (row groups
        of each), so memory follows the largest table, not the object. Tables after the first
        are cast to its schema. Written under a temporary key and moved in place (rename
        locally, server-side copy on S3): a failure or kill leaves the previous object."""
        tmp = posixpath.join(posixpath.dirname(key), f".tmp-{uuid.uuid4().hex}")
        writer: pq.ParquetWriter | None = None
        try:
            self._make_parent(self.path(tmp))
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(
                        self.path(tmp),
                        table.schema,
                        filesystem=self._fs,
                        compression=PARQUET_COMPRESSION,
                        **options,
                    )
                elif table.schema != writer.schema:
                    table = table.cast(writer.schema)
                writer.write_table(table)
            if writer is None:
                raise ValueError(f"{key}: no tables to write")
            writer.close()
            self.move(tmp, key)
        except BaseException:
            if writer is not None:
                writer.close()
            if self._fs.get_file_info(self.path(tmp)).type == pafs.FileType.File:
                self._fs.delete_file(self.path(tmp))
            raise

    def open_output(self, key: str) -> pa.NativeFile:
        """A stream writing ``key`` directly, for objects built piece by piece (bigger than
        memory). Not atomic by itself: write a temporary key, then :meth:`move` it in place."""
        path = self.path(key)
        self._make_parent(path)
        return self._fs.open_output_stream(path, compression=None)

    @property
    def is_local(self) -> bool:
        """Objects are local files (opened in place; on S3 a read fetches the object whole)."""
        return self._atomic_rename

    def copy(self, src: str, dst: str) -> None:
        """Replace ``dst`` with a copy of ``src`` atomically (server-side on S3): an object
        whose bytes already exist elsewhere is not re-encoded."""
        self._atomic_write(dst, lambda path: self._fs.copy_file(self.path(src), path))

    def delete(self, key: str) -> None:
        if self.exists(key):
            self._fs.delete_file(self.path(key))

    def move(self, src: str, dst: str) -> None:
        self._make_parent(self.path(dst))
        self._fs.move(self.path(src), self.path(dst))

    # -- internals ----------------------------------------------------------------------------
    def _s3_download(self, key: str, local: Path, chunk_bytes: int) -> None:
        response = self._s3_object(key)
        with local.open("wb") as dst:
            for chunk in response["Body"].iter_chunks(chunk_bytes):
                dst.write(chunk)

    def _s3_get(self, key: str) -> bytes:
        """One GET returns one version whole; pyarrow's S3 reader issues a HEAD and then range
        GETs, which can straddle a concurrent replacement."""
        return bytes(self._s3_object(key)["Body"].read())

    def _s3_object(self, key: str) -> Any:
        assert self._s3 is not None
        if self._s3_client is None:
            import boto3

            self._s3_client = boto3.client(
                "s3",
                endpoint_url=self._s3.endpoint_url,
                region_name=self._s3.region,
                aws_access_key_id=self._s3.access_key,
                aws_secret_access_key=self._s3.secret_key,
            )
        bucket, _, obj = self.path(key).partition("/")
        try:
            return self._s3_client.get_object(Bucket=bucket, Key=obj)
        except self._s3_client.exceptions.NoSuchKey as exc:
            raise ObjectNotFoundError(self.uri(key)) from exc

    def _write_stream(self, path: str, data: bytes) -> None:
        # compression=None: pyarrow would otherwise (de)compress by extension (.zst, .gz).
        with self._fs.open_output_stream(path, compression=None) as f:
            f.write(data)

    def _make_parent(self, path: str) -> None:
        if self._atomic_rename:
            self._fs.create_dir(posixpath.dirname(path), recursive=True)

    def _atomic_write(self, key: str, write: Callable[[str], None]) -> None:
        final = self.path(key)
        self._make_parent(final)
        if not self._atomic_rename:
            write(final)
            return
        tmp = posixpath.join(posixpath.dirname(final), f".tmp-{uuid.uuid4().hex}")
        try:
            write(tmp)
            self._fs.move(tmp, final)  # rename(2): atomic on one filesystem
        except BaseException:
            if self._fs.get_file_info(tmp).type == pafs.FileType.File:
                self._fs.delete_file(tmp)
            raise


def parquet_num_rows(store: ObjectStore, key: str) -> int:
    """Row count from the Parquet footer (locally no data pages are read)."""
    with store.open_consistent(key) as f:
        return int(pq.ParquetFile(f).metadata.num_rows)
