"""Declarative automation, on from the first start: assets with an ``automation_condition``
(``cost_model_params``) are evaluated by this sensor, which runs by default on a fresh instance
(Dagster's implicit default sensor starts STOPPED, and nothing would recalibrate by itself)."""

import dagster as dg

from quant_assets.lib.settings import Settings


def automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        # The landing sensors' interval: demos and end-to-end tests shorten both together.
        minimum_interval_seconds=settings.landing_sensor_interval_s,
        description="Evaluates every asset's automation condition (cost_model_params "
        "recalibrates when clean ticks of its trailing window change and their blocking checks "
        "passed).",
    )


@dg.definitions
def automation() -> dg.Definitions:
    """The interval from the environment's settings, read when the code location loads."""
    return dg.Definitions(sensors=[automation_sensor(Settings.from_env())])
