-- Failed Dagster runs, recorded by the run-failure sensor (one row per run).
CREATE TABLE IF NOT EXISTS run_failures (
    run_id      TEXT PRIMARY KEY,
    job_name    TEXT NOT NULL,
    partition_key TEXT,
    error       TEXT NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL
);
