-- Delete one day of archived metrics; DuckDB returns the number of deleted rows.
DELETE FROM metrics
WHERE time >= :range_start AND time < :range_end;
