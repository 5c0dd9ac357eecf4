-- One ingestion event; the sensor may see the same materialization again after a restart.
INSERT INTO ingestion_events (
    event_id, recorded_at, asset, partition_key, source, rows_in, rows_clean, rows_quarantined,
    reasons
)
VALUES (
    :event_id, :recorded_at, :asset, :partition_key, :source, :rows_in, :rows_clean,
    :rows_quarantined, :reasons
)
ON CONFLICT (event_id) DO NOTHING;
