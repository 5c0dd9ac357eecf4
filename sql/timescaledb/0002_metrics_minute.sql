-- Per-minute metric rollup for dashboards, as a plain VIEW over the hypertable.
-- Used when the server lacks continuous aggregates (Apache-2 build of TimescaleDB); the runner
-- picks 0002_metrics_minute.continuous_aggregates.sql instead when the server has them.
CREATE OR REPLACE VIEW metrics_minute AS
SELECT
    time_bucket(INTERVAL '1 minute', time) AS bucket,
    run_id,
    name,
    count(*)          AS n,
    avg(value)        AS avg_value,
    min(value)        AS min_value,
    max(value)        AS max_value,
    last(value, time) AS last_value,
    max(step)         AS last_step
FROM metrics
GROUP BY 1, 2, 3;
