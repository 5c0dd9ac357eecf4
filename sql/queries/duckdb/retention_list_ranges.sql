-- Local deployment (DuckDB has no chunks): whole UTC days holding metrics, ending at or before
-- the retention cutoff, oldest first. Same columns as the TimescaleDB variant.
SELECT
    NULL AS label,
    date_trunc('day', time) AS range_start,
    date_trunc('day', time) + INTERVAL 1 DAY AS range_end,
    NULL AS qualified_name
FROM metrics
WHERE time < :cutoff
GROUP BY 2, 3
HAVING date_trunc('day', time) + INTERVAL 1 DAY <= :cutoff
ORDER BY 2;
