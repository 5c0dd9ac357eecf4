-- Fast path for a batch never attempted before: straight into the hypertable. The unique key
-- still guards against duplicates: a clash aborts this COPY and the caller falls back to the
-- staged ON CONFLICT path (insert_metrics_from_stage), which replays always take.
COPY metrics (time, run_id, name, step, value) FROM STDIN (FORMAT BINARY);
