"""Archive lifecycle rules put on a real S3 endpoint and read back.

Transitions run against moto's S3 server (``moto_s3``): SeaweedFS rejects transition rules with
NotImplemented, which the first test pins down so the choice is revisited when that changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from quant_assets.lib.storage.lifecycle import (
    ArchivePolicy,
    apply_archive_lifecycle,
    read_lifecycle_rules,
    verify_archive_lifecycle,
)

UNRELATED = {
    "ID": "expire-scratch",
    "Filter": {"Prefix": "scratch/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def by_id(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["ID"]: r for r in rules}


def test_lifecycle_seaweedfs_transition_rule_rejected_not_implemented(
    s3_server: Any, s3_bucket: str
) -> None:
    client = s3_server.boto3_client()
    with pytest.raises(ClientError) as info:
        apply_archive_lifecycle(client, s3_bucket, ArchivePolicy())
    assert info.value.response["Error"]["Code"] == "NotImplemented"


def test_lifecycle_apply_empty_bucket_transitions_both_prefixes_after_90_days(
    moto_s3: Any, moto_bucket: str
) -> None:
    client = moto_s3.boto3_client()

    result = apply_archive_lifecycle(client, moto_bucket, ArchivePolicy())

    assert result.changed
    rules = by_id(read_lifecycle_rules(client, moto_bucket))
    assert sorted(rules) == ["quant-archive-metrics_archive", "quant-archive-ticks_raw"]
    ticks = rules["quant-archive-ticks_raw"]
    assert ticks["Filter"]["Prefix"] == "ticks_raw/"
    assert ticks["Status"] == "Enabled"
    assert ticks["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    assert verify_archive_lifecycle(client, moto_bucket, ArchivePolicy()) == []


def test_lifecycle_apply_twice_second_sends_nothing(moto_s3: Any, moto_bucket: str) -> None:
    client = moto_s3.boto3_client()
    apply_archive_lifecycle(client, moto_bucket, ArchivePolicy())

    again = apply_archive_lifecycle(client, moto_bucket, ArchivePolicy())

    assert not again.changed
    assert len(read_lifecycle_rules(client, moto_bucket)) == 2


def test_lifecycle_apply_with_unrelated_and_stale_rules_keeps_unrelated_updates_stale(
    moto_s3: Any, moto_bucket: str
) -> None:
    client = moto_s3.boto3_client()
    stale = {
        "ID": "quant-archive-lake-ticks_raw",
        "Filter": {"Prefix": "lake/ticks_raw/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=moto_bucket, LifecycleConfiguration={"Rules": [UNRELATED, stale]}
    )
    policy = ArchivePolicy(storage_class="DEEP_ARCHIVE", key_prefix="lake")

    result = apply_archive_lifecycle(client, moto_bucket, policy)

    assert result.changed and result.kept == ["expire-scratch"]
    rules = by_id(read_lifecycle_rules(client, moto_bucket))
    assert rules["expire-scratch"]["Expiration"] == {"Days": 7}
    assert rules["quant-archive-lake-ticks_raw"]["Transitions"] == [
        {"Days": 90, "StorageClass": "DEEP_ARCHIVE"}
    ]
    assert rules["quant-archive-lake-metrics_archive"]["Filter"]["Prefix"] == (
        "lake/metrics_archive/"
    )
    assert len(rules) == 3


def test_lifecycle_verify_after_clobbering_put_reports_missing_rules(
    moto_s3: Any, moto_bucket: str
) -> None:
    client = moto_s3.boto3_client()
    apply_archive_lifecycle(client, moto_bucket, ArchivePolicy())
    client.put_bucket_lifecycle_configuration(  # someone else's PUT replaces the whole config
        Bucket=moto_bucket, LifecycleConfiguration={"Rules": [UNRELATED]}
    )

    problems = verify_archive_lifecycle(client, moto_bucket, ArchivePolicy())

    assert problems == [
        "rule quant-archive-ticks_raw missing",
        "rule quant-archive-metrics_archive missing",
    ]


def test_lifecycle_policy_non_archival_class_raises() -> None:
    with pytest.raises(ValueError, match="storage_class"):
        ArchivePolicy(storage_class="STANDARD_IA")
