"""S3 lifecycle: move cold prefixes (raw ticks, the metrics archive) to an archival class.

A bucket has one lifecycle configuration shared by everyone who uses it, and a PUT replaces it
whole. So the rules here are owned by ID (``quant-archive-<prefix>``): applying replaces only
those rules, keeps every other rule as the server returned it, and sends nothing when the bucket
already has them (idempotent). Reading back compares what the server stores, not what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ARCHIVE_PREFIXES: tuple[str, ...] = ("ticks_raw/", "metrics_archive/")
ARCHIVAL_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"})
RULE_ID_PREFIX = "quant-archive-"


class LifecycleMismatchError(RuntimeError):
    """The bucket's lifecycle does not hold the archive rules (after applying them)."""


@dataclass(frozen=True)
class ArchivePolicy:
    """Transition every object under ``prefixes`` to ``storage_class`` after ``days``."""

    prefixes: tuple[str, ...] = ARCHIVE_PREFIXES
    days: int = 90
    storage_class: str = "GLACIER"
    key_prefix: str = ""  # the object store's prefix inside the bucket, if any

    def __post_init__(self) -> None:
        if self.storage_class not in ARCHIVAL_STORAGE_CLASSES:
            raise ValueError(
                f"storage_class {self.storage_class!r} is not one of "
                f"{sorted(ARCHIVAL_STORAGE_CLASSES)}"
            )
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if not self.prefixes or any(not p.strip("/") for p in self.prefixes):
            raise ValueError(f"prefixes must be non-empty folders, got {self.prefixes!r}")

    def object_prefix(self, prefix: str) -> str:
        """Bucket-level prefix: ``<key_prefix>/<prefix>/`` (always ending in a slash, so that
        ``ticks_raw/`` does not also match ``ticks_raw_old/``)."""
        parts = [p.strip("/") for p in (self.key_prefix, prefix) if p.strip("/")]
        return "/".join(parts) + "/"

    def rules(self) -> list[dict[str, Any]]:
        return [
            {
                "ID": rule_id(self.object_prefix(p)),
                "Filter": {"Prefix": self.object_prefix(p)},
                "Status": "Enabled",
                "Transitions": [{"Days": self.days, "StorageClass": self.storage_class}],
            }
            for p in self.prefixes
        ]


@dataclass(frozen=True)
class LifecycleResult:
    changed: bool  # False: the bucket already had exactly these rules, nothing was sent
    managed: list[str]  # IDs of the archive rules
    kept: list[str]  # IDs of unrelated rules carried over unchanged
    rules: list[dict[str, Any]]  # the bucket's whole configuration afterwards


def rule_id(object_prefix: str) -> str:
    return RULE_ID_PREFIX + object_prefix.strip("/").replace("/", "-")


def read_lifecycle_rules(client: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules as stored by the server ([] when it has none)."""
    try:
        response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise
    return list(response.get("Rules", []))


def apply_archive_lifecycle(client: Any, bucket: str, policy: ArchivePolicy) -> LifecycleResult:
    """Put the archive rules on ``bucket``, keeping its other rules; then read back and verify."""
    desired = policy.rules()
    ids = {r["ID"] for r in desired}
    current = read_lifecycle_rules(client, bucket)
    kept = [r for r in current if r.get("ID") not in ids]
    have = {r["ID"]: _normalise(r) for r in current if r.get("ID") in ids}
    changed = have != {r["ID"]: _normalise(r) for r in desired}
    if changed:
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*kept, *desired]}
        )
    problems = verify_archive_lifecycle(client, bucket, policy, expect_kept=kept)
    if problems:
        raise LifecycleMismatchError(f"bucket {bucket}: " + "; ".join(problems))
    return LifecycleResult(
        changed=changed,
        managed=sorted(ids),
        kept=[str(r.get("ID", "")) for r in kept],
        rules=read_lifecycle_rules(client, bucket),
    )


def verify_archive_lifecycle(
    client: Any,
    bucket: str,
    policy: ArchivePolicy,
    *,
    expect_kept: list[dict[str, Any]] | None = None,
) -> list[str]:
    """What is wrong with the bucket's lifecycle for ``policy`` ([] when it is right).

    ``expect_kept``: unrelated rules that must still be there, unchanged.
    """
    stored = {r.get("ID"): _normalise(r) for r in read_lifecycle_rules(client, bucket)}
    problems = []
    for rule in policy.rules():
        got = stored.get(rule["ID"])
        if got is None:
            problems.append(f"rule {rule['ID']} missing")
        elif got != _normalise(rule):
            problems.append(f"rule {rule['ID']} is {got}, expected {_normalise(rule)}")
    for rule in expect_kept or []:
        if stored.get(rule.get("ID")) != _normalise(rule):
            problems.append(f"unrelated rule {rule.get('ID')} was changed or removed")
    return problems


def _normalise(rule: dict[str, Any]) -> tuple[Any, ...]:
    """The parts that decide what a rule does, in a form that survives the server's rewriting
    (legacy top-level ``Prefix`` vs ``Filter``, field order, extra empty fields)."""
    filt = rule.get("Filter") or {}
    prefix = filt.get("Prefix", (filt.get("And") or {}).get("Prefix", rule.get("Prefix", "")))
    tags = sorted((t["Key"], t["Value"]) for t in (filt.get("And") or {}).get("Tags", []))
    if "Tag" in filt:
        tags.append((filt["Tag"]["Key"], filt["Tag"]["Value"]))
    transitions = sorted(
        (t.get("Days"), str(t.get("Date", "")), t.get("StorageClass"))
        for t in rule.get("Transitions", [])
    )
    return (
        rule.get("Status"),
        prefix,
        tuple(tags),
        tuple(transitions),
        tuple(sorted((rule.get("Expiration") or {}).items())),
        tuple(sorted((rule.get("NoncurrentVersionExpiration") or {}).items())),
    )
