"""A tiny code location for the blue/green tests (copied into a throwaway git repo there).

The sensor ticks every second and records which server evaluated it in its cursor
(``<version>:<pid>``); it asks for one run per server, and that run sleeps long enough to be in
flight while the workspace switches.
"""

import os
import time

import dagster as dg

VERSION = "v1"
RUN_SECONDS = float(os.environ.get("FLIP_RUN_SECONDS", "20"))


@dg.op
def hold(context: dg.OpExecutionContext) -> None:
    time.sleep(RUN_SECONDS)
    context.log.info(f"{VERSION} done")


@dg.job
def slow_job() -> None:
    hold()


@dg.sensor(job=slow_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def tick_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    served_by = f"{VERSION}:{os.getpid()}"
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=served_by, tags={"served_by": served_by})],
        cursor=served_by,
    )


defs = dg.Definitions(jobs=[slow_job], sensors=[tick_sensor])
