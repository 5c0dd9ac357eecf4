-- quant:no-transaction
-- Per-minute metric rollup as a real-time continuous aggregate (Community-licensed TimescaleDB).
-- Same columns as the VIEW variant, so dashboards do not care which one the server got.
CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_minute
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
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
GROUP BY 1, 2, 3
WITH NO DATA;

SELECT add_continuous_aggregate_policy(
    'metrics_minute',
    start_offset => INTERVAL '1 day',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute',
    if_not_exists => TRUE
);
