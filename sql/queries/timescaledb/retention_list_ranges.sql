-- Chunks of the metrics hypertable that end at or before the retention cutoff, oldest first.
-- drop_chunks only removes whole chunks, so a chunk straddling the cutoff waits for a later run.
SELECT
    chunk_name AS label,
    range_start,
    range_end,
    chunk_schema || '.' || chunk_name AS qualified_name
FROM timescaledb_information.chunks
WHERE hypertable_schema = current_schema()
  AND hypertable_name = 'metrics'
  AND range_end <= :cutoff
ORDER BY range_start;
