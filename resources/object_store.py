"""Dagster resource for the object store: local filesystem or S3, chosen by deployment."""

import dagster as dg
from pydantic import Field

from quant_assets.lib.settings import Deployment, Settings
from quant_assets.lib.storage.object_store import ObjectStore, S3Location


class ObjectStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the tick lake, artifacts and archives live.

    ``kind="local"`` uses ``root`` on disk; ``kind="s3"`` uses ``bucket``/``prefix`` with the
    standard AWS variables for credentials and ``AWS_ENDPOINT_URL`` for non-AWS servers.
    """

    kind: str = Field(default="local", description="'local' or 's3'")
    root: str = Field(default=".quant/data", description="local root directory")
    bucket: str = Field(default="", description="S3 bucket (kind='s3')")
    prefix: str = Field(default="", description="key prefix inside the bucket")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint, e.g. MinIO")
    region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "ObjectStoreResource":
        if settings.deployment is Deployment.PROD:
            return cls(
                kind="s3",
                bucket=settings.s3_bucket or "",
                endpoint_url=settings.s3_endpoint_url,
            )
        return cls(kind="local", root=str(settings.data_root))

    def get_store(self) -> ObjectStore:
        if self.kind == "local":
            return ObjectStore.local(self.root)
        if self.kind == "s3":
            if not self.bucket:
                raise ValueError("ObjectStoreResource(kind='s3') needs a bucket")
            return ObjectStore.s3(
                S3Location(
                    bucket=self.bucket,
                    prefix=self.prefix,
                    endpoint_url=self.endpoint_url,
                    region=self.region,
                )
            )
        raise ValueError(f"ObjectStoreResource.kind must be 'local' or 's3', not {self.kind!r}")
