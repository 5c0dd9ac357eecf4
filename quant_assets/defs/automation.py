"""Declarative automation, on from the first start: assets with an ``automation_condition``
(``cost_model_params``) are evaluated by this sensor, which runs by default on a fresh instance
(Dagster's implicit default sensor starts STOPPED, and nothing would recalibrate by itself)."""

import dagster as dg

from quant_assets.lib.settings import Settings

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # The landing sensors' interval: demos and end-to-end tests shorten both together.
    minimum_interval_seconds=Settings.from_env().landing_sensor_interval_s,
    description="Evaluates every asset's automation condition (cost_model_params recalibrates "
    "when clean ticks of its trailing window change and their blocking checks passed).",
)
