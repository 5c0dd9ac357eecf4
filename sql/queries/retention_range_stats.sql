-- Rows of one retention range (a chunk's or a day's time range): compared with the archive file
-- before the range is deleted, and again under lock right before the delete.
SELECT count(*) AS n, min(time) AS first_time, max(time) AS last_time
FROM metrics
WHERE time >= :range_start AND time < :range_end;
