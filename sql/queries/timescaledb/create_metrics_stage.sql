-- Per-connection staging table for COPY: fixed-width columns only (run_id and name travel as
-- dictionary codes) so the client can build the binary COPY payload without per-row Python work.
CREATE TEMP TABLE IF NOT EXISTS metrics_stage (
    time    TIMESTAMPTZ NOT NULL,
    run_k   INTEGER NOT NULL,
    name_k  INTEGER NOT NULL,
    step    BIGINT NOT NULL,
    value   DOUBLE PRECISION NOT NULL
) ON COMMIT DELETE ROWS;
