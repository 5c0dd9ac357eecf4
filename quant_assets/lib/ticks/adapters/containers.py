"""Vendor files inside containers (zip, gzip, zstd) and honest reasons when reading fails.

gzip/zstd/bz2 streams are decompressed by Arrow while reading (detected from the extension); a zip
archive is extracted to a temporary file first, and errors then name ``archive.zip!member``.
When Arrow fails, :func:`explain_read_error` says what is wrong with the file (a truncated stream,
an overlong line, binary content) instead of a parser message or "no adapter recognises it".
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa

from quant_assets.lib.ticks.adapters.errors import MalformedFileError

COMPRESSED = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Opened:
    """A file the readers can open, and the name errors give it."""

    path: Path
    display: str


def is_zip(path: Path) -> bool:
    return path.name.lower().endswith(".zip")


def inner_name(path: Path) -> str:
    """The name that tells the format: ``x.csv.gz`` -> ``x.csv``; zip archives keep theirs."""
    name = path.name
    for suffix in COMPRESSED:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        i
        for i in zf.infolist()
        if not i.is_dir()
        and not PurePosixPath(i.filename).name.startswith(".")
        and not i.filename.startswith("__MACOSX/")
    ]


@contextmanager
def open_container(path: Path, member: str | None = None) -> Iterator[Opened]:
    """Yield a readable file for ``path``: the file itself, or the chosen member of a zip
    archive (``member`` is a regex; default: the archive's only file) in a temporary folder."""
    if not is_zip(path):
        yield Opened(path, str(path))
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MalformedFileError(path, f"not a readable zip archive: {exc}") from exc
    with zf, tempfile.TemporaryDirectory(prefix="quant-zip-") as tmp:
        members = _members(zf)
        if member is not None:
            members = [i for i in members if re.search(member, i.filename)]
        if len(members) != 1:
            names = [i.filename for i in _members(zf)][:10]
            want = f"matching {member!r}" if member else "(set `member` in the mapping)"
            raise MalformedFileError(
                path, f"zip archive has {len(members)} members {want}; members: {names}"
            )
        info = members[0]
        target = Path(tmp) / PurePosixPath(info.filename).name
        try:
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MalformedFileError(
                f"{path}!{info.filename}", f"corrupt zip member: {exc}"
            ) from exc
        yield Opened(target, f"{path}!{info.filename}")


def _compression(path: Path) -> str | None:
    return COMPRESSED.get(path.suffix.lower())


def check_stream(path: Path) -> str | None:
    """Decompress ``path`` to the end; the reason if the stream is truncated or corrupt."""
    kind = _compression(path)
    if kind is None:
        return None
    try:
        with pa.input_stream(str(path), compression=kind) as stream:
            while stream.read(_CHUNK):
                pass
    except (OSError, pa.ArrowInvalid) as exc:
        if "truncated" in str(exc).lower():
            return f"truncated {kind} stream: the file ends inside the compressed data ({exc})"
        return f"corrupt {kind} stream: {exc}"
    return None


def longest_line(path: Path) -> tuple[int, int]:
    """(1-based line number, length in bytes) of the longest line, streaming."""
    best = (0, 0)
    lineno, current = 1, 0
    with pa.input_stream(str(path), compression=_compression(path)) as stream:
        while chunk := stream.read(_CHUNK):
            start = 0
            while (nl := chunk.find(b"\n", start)) >= 0:
                current += nl - start
                if current > best[1]:
                    best = (lineno, current)
                lineno, current, start = lineno + 1, 0, nl + 1
            current += len(chunk) - start
    if current > best[1]:
        best = (lineno, current)
    return best


def explain_read_error(path: Path, exc: BaseException, block_size: int) -> str:
    """Say what is wrong with a text file Arrow could not read."""
    stream_problem = check_stream(path)
    if stream_problem is not None:
        return stream_problem
    message = str(exc)
    if "straddl" in message:
        lineno, length = longest_line(path)
        return (
            f"line {lineno} is {length / 1e6:.1f} MB long, over the {block_size / 1e6:.0f} MB "
            "a line may have; is it a text file with one record per line?"
        )
    if "utf8" in message.lower() or "utf-8" in message.lower():
        return f"not UTF-8 text (binary content?): {message}"
    return message
