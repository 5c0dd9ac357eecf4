-- Per-minute metric rollup (DuckDB): same columns as the TimescaleDB variants; arg_max stands in
-- for TimescaleDB's last(value, time).
CREATE OR REPLACE VIEW metrics_minute AS
SELECT
    time_bucket(INTERVAL '1 minute', time) AS bucket,
    run_id,
    name,
    count(*)               AS n,
    avg(value)             AS avg_value,
    min(value)             AS min_value,
    max(value)             AS max_value,
    arg_max(value, time)   AS last_value,
    max(step)              AS last_step
FROM metrics
GROUP BY 1, 2, 3;
