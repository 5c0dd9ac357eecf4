-- What the tick lake took in: one row per ingested file or cleaned partition, written by the
-- ingestion_events sensor from the assets' materializations (ingestion-health dashboards).
CREATE TABLE IF NOT EXISTS ingestion_events (
    event_id          TEXT PRIMARY KEY,
    recorded_at       TIMESTAMPTZ NOT NULL,
    asset             TEXT NOT NULL,
    partition_key     TEXT NOT NULL,
    source            TEXT,
    rows_in           BIGINT,
    rows_clean        BIGINT,
    rows_quarantined  BIGINT,
    reasons           TEXT
);
