"""Deployment settings: one variable (``QUANT_DEPLOYMENT``) switches local ↔ prod.

Everything else is read from standard variables so the same code runs on a laptop and in prod.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Deployment(StrEnum):
    LOCAL = "local"
    PROD = "prod"


class SettingsError(ValueError):
    """A deployment variable is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    deployment: Deployment
    data_root: Path  # local object store root and DuckDB location
    s3_bucket: str | None
    s3_endpoint_url: str | None
    tsdb_dsn: str | None

    @property
    def duckdb_path(self) -> Path:
        return self.data_root / "warehouse.duckdb"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ) if env is None else env
        raw = e.get("QUANT_DEPLOYMENT", Deployment.LOCAL.value).strip().lower()
        try:
            deployment = Deployment(raw)
        except ValueError:
            raise SettingsError(
                f"QUANT_DEPLOYMENT={raw!r} is not one of {[d.value for d in Deployment]}"
            ) from None
        data_root = Path(e.get("QUANT_DATA_ROOT", ".quant/data")).expanduser().absolute()
        settings = cls(
            deployment=deployment,
            data_root=data_root,
            s3_bucket=e.get("QUANT_S3_BUCKET") or None,
            s3_endpoint_url=e.get("AWS_ENDPOINT_URL") or None,
            tsdb_dsn=e.get("QUANT_TSDB_DSN") or None,
        )
        if deployment is Deployment.PROD:
            missing = [
                name
                for name, value in (
                    ("QUANT_S3_BUCKET", settings.s3_bucket),
                    ("QUANT_TSDB_DSN", settings.tsdb_dsn),
                )
                if not value
            ]
            if missing:
                raise SettingsError(f"QUANT_DEPLOYMENT=prod needs {', '.join(missing)} to be set")
        return settings
