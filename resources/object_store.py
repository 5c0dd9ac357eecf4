"""Dagster resource for the object store: local filesystem or S3, chosen by deployment."""

import dagster as dg
from pydantic import Field

from quant_assets.lib.settings import Deployment, Settings
from quant_assets.lib.storage.object_store import ObjectStore, S3Location
from resources.env import resolve as _resolve


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
        """Bucket, endpoint and region from the environment are bound by variable name."""
        if settings.deployment is Deployment.PROD:

            def named(name: str, value: str | None) -> str | None:
                return dg.EnvVar(name) if settings.by_name(name) else value

            return cls(
                kind="s3",
                bucket=named("QUANT_S3_BUCKET", settings.s3_bucket) or "",
                endpoint_url=named("AWS_ENDPOINT_URL", settings.s3_endpoint_url),
                region=named("AWS_REGION", settings.s3_region),
            )
        return cls(kind="local", root=str(settings.data_root))

    def get_store(self) -> ObjectStore:
        if self.kind == "local":
            return ObjectStore.local(_resolve(self.root))
        if self.kind == "s3":
            bucket = _resolve(self.bucket)
            if not bucket:
                raise ValueError("ObjectStoreResource(kind='s3') needs a bucket")
            return ObjectStore.s3(
                S3Location(
                    bucket=bucket,
                    prefix=self.prefix,
                    endpoint_url=_resolve(self.endpoint_url),
                    region=_resolve(self.region),
                )
            )
        raise ValueError(f"ObjectStoreResource.kind must be 'local' or 's3', not {self.kind!r}")
