"""Storage fixtures: a moto S3 server for lifecycle transitions.

SeaweedFS (the S3 server of the other tests) stores lifecycle expirations but answers
``NotImplemented`` to any rule with a storage-class transition (checked by
``test_lifecycle_seaweedfs_transition_rule_rejected_not_implemented``), so lifecycle tests run
against moto's standalone server: a real HTTP S3 endpoint in its own process, reached through
boto3 exactly like AWS, not an in-process mock of boto3.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from quant_assets_tests.services import MotoServer
except ImportError:  # rootdir-relative imports
    from services import MotoServer  # type: ignore[no-redef]


@pytest.fixture(scope="session")
def moto_s3(moto_server: MotoServer) -> MotoServer:
    """moto's S3 (the session's moto server, see the root conftest)."""
    return moto_server


@pytest.fixture
def moto_bucket(moto_s3: Any) -> Iterator[str]:
    """A fresh bucket on the moto server (moto keeps state per process: names never repeat)."""
    client = moto_s3.boto3_client()
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        client.delete_bucket(Bucket=bucket)
