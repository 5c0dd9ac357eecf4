"""Deployment settings: the one place that reads the process environment.

``QUANT_DEPLOYMENT`` switches local ↔ prod; every other variable is a location, an endpoint, a
secret or a knob. ``Settings.from_env`` is called once, where the code location loads
(``quant_assets/defs/deployment.py``) and by the CLI; it turns the variables into resources, so
assets, checks and sensors read their configuration from resources only. Secrets and endpoints
stay *names* (``dg.EnvVar``) there: the UI shows the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Deployment(StrEnum):
    LOCAL = "local"
    PROD = "prod"


class SettingsError(ValueError):
    """A deployment variable is missing or invalid."""


# name -> (default, meaning); README's configuration table lists the same variables.
VARIABLES: dict[str, tuple[str, str]] = {
    "QUANT_DEPLOYMENT": ("local", "'local' or 'prod'"),
    "QUANT_DATA_ROOT": (".quant/data", "local object-store root, DuckDB file and scratch space"),
    "QUANT_S3_BUCKET": ("", "prod bucket (required in prod)"),
    "AWS_ENDPOINT_URL": ("", "S3 endpoint for non-AWS servers (MinIO, SeaweedFS)"),
    "AWS_REGION": ("", "S3 region"),
    "QUANT_TSDB_DSN": ("", "prod TimescaleDB DSN (required in prod; a secret)"),
    "QUANT_SQL_DIR": ("", "folder of the SQL files (default: the repository's sql/)"),
    "QUANT_GRAFANA_URL": ("", "Grafana base URL; training-dashboard links appear only when set"),
    "QUANT_REPORTS_URL": ("", "base URL of the report server; HTTP links to tear sheets when set"),
    "QUANT_RETRAIN_MIN_NEW_PARTITIONS": ("5", "new clean days that trigger a retrain"),
    "QUANT_RETRAIN_DRIFT_ALPHA": ("0.05", "false-alarm rate of the champion drift test"),
    "QUANT_RETRAIN_TIMESTEPS": ("", "training size of sensor-requested retrains"),
    "QUANT_RETRAIN_EMBARGO_SESSIONS": ("", "sessions between train and test (default 1)"),
    "QUANT_LANDING_SENSOR_INTERVAL_S": ("30", "landing/ingestion sensor interval, seconds"),
    "QUANT_RETRAIN_SENSOR_INTERVAL_S": ("300", "retrain sensor interval, seconds"),
    "QUANT_CLEAN_MIN_SHARE": ("0.01", "blocking check: clean rows / raw rows on an open session"),
    "QUANT_QUARANTINE_MAX_SHARE": ("0.5", "check: quarantined rows / raw rows per source"),
    "QUANT_FIRST_SESSION": ("1990-01-01", "first session date of the tick lake's partitions"),
    "QUANT_TICK_MAX_CONCURRENT": (
        "1",
        "tick build steps (symbol chunks, checks) run at once; 1: they share the run's process",
    ),
    "QUANT_TICK_IMAGE": ("", "prod: image of the tick build's step containers (unset: processes)"),
}


def process_environment() -> Mapping[str, str]:
    """This process's environment: the one place outside ``Settings.from_env`` that reads it
    (secret stores, the training container's variables, third-party switches)."""
    return os.environ


def env_value(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """One variable, for lib code that needs it before any resource exists (partition bounds)."""
    return (os.environ if env is None else env).get(name)


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> float:
    raw = env.get(name) or VARIABLES[name][0]
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None


@dataclass(frozen=True)
class Settings:
    deployment: Deployment
    data_root: Path  # local object store root and DuckDB location
    s3_bucket: str | None
    s3_endpoint_url: str | None
    tsdb_dsn: str | None = field(default=None, repr=False)
    s3_region: str | None = None
    sql_root: Path | None = None
    grafana_url: str | None = None
    reports_url: str | None = None
    retrain_min_new_partitions: int = 5
    retrain_drift_alpha: float = 0.05
    retrain_timesteps: int | None = None
    retrain_embargo_sessions: int | None = None
    landing_sensor_interval_s: int = 30
    retrain_sensor_interval_s: int = 300
    clean_min_share: float = 0.01
    quarantine_max_share: float = 0.5
    tick_max_concurrent: int = 1
    #: names of the variables that were set, and whether they came from this process's
    #: environment (then resources refer to them by name, resolved where they are used).
    set_names: frozenset[str] = frozenset()
    from_process_env: bool = False
    #: the mapping read (names forwarded to training containers); never shown or logged.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def duckdb_path(self) -> Path:
        return self.data_root / "warehouse.duckdb"

    @property
    def scratch_dir(self) -> Path:
        """Local working space: checkpoints, metric spool, artifact cache."""
        return self.data_root / "scratch"

    def by_name(self, name: str) -> bool:
        """Whether a resource should hold ``name`` as a ``dg.EnvVar`` rather than a value."""
        return self.from_process_env and name in self.set_names

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = dict(os.environ) if env is None else dict(env)
        raw = e.get("QUANT_DEPLOYMENT", Deployment.LOCAL.value).strip().lower()
        try:
            deployment = Deployment(raw)
        except ValueError:
            raise SettingsError(
                f"QUANT_DEPLOYMENT={raw!r} is not one of {[d.value for d in Deployment]}"
            ) from None
        data_root = Path(e.get("QUANT_DATA_ROOT") or ".quant/data").expanduser().absolute()
        timesteps = e.get("QUANT_RETRAIN_TIMESTEPS")
        settings = cls(
            deployment=deployment,
            data_root=data_root,
            s3_bucket=e.get("QUANT_S3_BUCKET") or None,
            s3_endpoint_url=e.get("AWS_ENDPOINT_URL") or None,
            tsdb_dsn=e.get("QUANT_TSDB_DSN") or None,
            s3_region=e.get("AWS_REGION") or None,
            sql_root=Path(e["QUANT_SQL_DIR"]).absolute() if e.get("QUANT_SQL_DIR") else None,
            grafana_url=e.get("QUANT_GRAFANA_URL") or None,
            reports_url=e.get("QUANT_REPORTS_URL") or None,
            retrain_min_new_partitions=int(_number(e, "QUANT_RETRAIN_MIN_NEW_PARTITIONS", int)),
            retrain_drift_alpha=_number(e, "QUANT_RETRAIN_DRIFT_ALPHA", float),
            retrain_timesteps=(
                int(_number(e, "QUANT_RETRAIN_TIMESTEPS", int)) if timesteps else None
            ),
            retrain_embargo_sessions=(
                int(_number(e, "QUANT_RETRAIN_EMBARGO_SESSIONS", int))
                if e.get("QUANT_RETRAIN_EMBARGO_SESSIONS")
                else None
            ),
            landing_sensor_interval_s=int(_number(e, "QUANT_LANDING_SENSOR_INTERVAL_S", int)),
            retrain_sensor_interval_s=int(_number(e, "QUANT_RETRAIN_SENSOR_INTERVAL_S", int)),
            clean_min_share=_number(e, "QUANT_CLEAN_MIN_SHARE", float),
            quarantine_max_share=_number(e, "QUANT_QUARANTINE_MAX_SHARE", float),
            tick_max_concurrent=int(_number(e, "QUANT_TICK_MAX_CONCURRENT", int)),
            set_names=frozenset(n for n in VARIABLES if e.get(n)),
            from_process_env=env is None,
            env=e,
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
