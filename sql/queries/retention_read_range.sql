-- Every metric row of one retention range, in a stable order (the archive file's row order).
SELECT time, run_id, name, step, value
FROM metrics
WHERE time >= :range_start AND time < :range_end
ORDER BY time, run_id, name, step;
