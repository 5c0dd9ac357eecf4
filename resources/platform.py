"""The platform's knobs as one resource, and the factory of every resource of a deployment.

Assets, checks and sensors get their configuration here and nowhere else: locations, thresholds,
the dashboard and report URLs. Secrets and endpoints that came from the environment are bound by
*name* (``dg.EnvVar``): Dagster resolves them in the process that uses them, and the UI shows
only the variable's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from quant_assets.lib.settings import Deployment, Settings
from resources.env import resolve
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource


class PlatformSettingsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Knobs of the platform (not secrets): scratch space, retrain thresholds, data checks."""

    data_root: str = Field(default=".quant/data", description="local data root (scratch below)")
    grafana_url: str | None = Field(
        default=None, description="Grafana base URL; dashboard links only when set"
    )
    reports_url: str | None = Field(
        default=None, description="report server base URL; tear-sheet HTTP links only when set"
    )
    retrain_min_new_partitions: int = Field(default=5, ge=1)
    retrain_drift_alpha: float = Field(
        default=0.05, gt=0, lt=1, description="false-alarm rate of the drift test"
    )
    retrain_timesteps: int | None = Field(default=None, description="sensor retrain size")
    retrain_embargo_sessions: int | None = Field(
        default=None, ge=0, description="sessions between train and test (default 1)"
    )
    clean_min_share: float = Field(
        default=0.01, ge=0, le=1, description="blocking: clean/raw rows on an open session"
    )
    quarantine_max_share: float = Field(
        default=0.5, ge=0, le=1, description="quarantined/raw rows per source before failing"
    )

    @property
    def scratch_dir(self) -> Path:
        """Local working space (checkpoints, metric spool, artifact cache)."""
        return Path(resolve(self.data_root)).absolute() / "scratch"

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformSettingsResource:
        return cls(
            data_root=str(settings.data_root),
            grafana_url=(
                dg.EnvVar("QUANT_GRAFANA_URL")
                if settings.by_name("QUANT_GRAFANA_URL")
                else settings.grafana_url
            ),
            reports_url=(
                dg.EnvVar("QUANT_REPORTS_URL")
                if settings.by_name("QUANT_REPORTS_URL")
                else settings.reports_url
            ),
            retrain_min_new_partitions=settings.retrain_min_new_partitions,
            retrain_drift_alpha=settings.retrain_drift_alpha,
            retrain_timesteps=settings.retrain_timesteps,
            retrain_embargo_sessions=settings.retrain_embargo_sessions,
            clean_min_share=settings.clean_min_share,
            quarantine_max_share=settings.quarantine_max_share,
        )


def platform_resources(settings: Settings) -> dict[str, Any]:
    """Every resource of the deployment ``settings`` describe (the keys assets ask for)."""
    return {
        "object_store": ObjectStoreResource.from_settings(settings),
        "warehouse": WarehouseResource.from_settings(settings),
        "platform": PlatformSettingsResource.from_settings(settings),
    }


__all__ = ["Deployment", "PlatformSettingsResource", "platform_resources", "resolve"]
