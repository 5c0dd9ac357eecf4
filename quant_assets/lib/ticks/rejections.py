"""Why a landed file was rejected, as a record: when, what kind of rejection, the one-line reason.

``landing/rejected/<name>`` gets ``<name>.reason.txt`` (for people: the line, then the full
trace) and ``<name>.rejection.json`` (for programs: :class:`Rejection`), so readers such as
``quant demo`` sort rejections by :class:`RejectionKind` instead of searching the trace text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from quant_assets.lib.storage.object_store import ObjectStore

REASON_SUFFIX = ".reason.txt"
RECORD_SUFFIX = ".rejection.json"


class RejectionKind(StrEnum):
    MALFORMED = "malformed"  # unreadable, or ticks outside the allowed sessions
    UNSUPPORTED = "unsupported"  # well-formed, of a kind deliberately not read (DBN mbo)
    UNDECODABLE_NAME = "undecodable_name"  # the file name is not UTF-8


@dataclass(frozen=True)
class Rejection:
    file: str  # path under landing/rejected/ (source folder included)
    kind: RejectionKind
    reason: str  # one line
    at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "file": self.file,
                "kind": self.kind.value,
                "reason": self.reason,
                "at": self.at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Rejection:
        data = json.loads(text)
        return cls(
            file=str(data["file"]),
            kind=RejectionKind(data["kind"]),
            reason=str(data["reason"]),
            at=datetime.fromisoformat(data["at"]),
        )


def write_rejection(
    store: ObjectStore, rejected_key: str, rejection: Rejection, detail: str
) -> None:
    """The reason file (``detail``: the line, then the trace) and the record, beside the file."""
    stamp = rejection.at.isoformat(timespec="seconds")
    store.write_bytes(f"{rejected_key}{REASON_SUFFIX}", f"{stamp} {detail}\n".encode())
    store.write_bytes(f"{rejected_key}{RECORD_SUFFIX}", rejection.to_json().encode())


def read_rejections(store: ObjectStore, prefix: str, since: datetime) -> list[Rejection]:
    """Records under ``prefix`` of rejections at or after ``since`` (second resolution)."""
    out = []
    floor = since.replace(microsecond=0)
    for key in store.list(f"{prefix}/"):
        if not key.endswith(RECORD_SUFFIX):
            continue
        try:
            rejection = Rejection.from_json(store.read_bytes(key).decode())
        except (ValueError, KeyError):
            continue  # not a record this code wrote
        if rejection.at >= floor:
            out.append(rejection)
    return sorted(out, key=lambda r: (r.at, r.file))
