"""Declarative automation, on from the first start: assets with an ``automation_condition``
(``cost_model_params``) are evaluated by this sensor, which runs by default on a fresh instance
(Dagster's implicit default sensor starts STOPPED, and nothing would recalibrate by itself)."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates every asset's automation condition (cost_model_params recalibrates "
    "when clean ticks of its trailing window change and their blocking checks passed).",
)
