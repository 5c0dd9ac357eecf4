-- Current tick_manifest rows; every filter is optional (NULL = any).
SELECT *
FROM tick_manifest
WHERE (CAST(:market AS TEXT) IS NULL OR market = :market)
  AND (CAST(:symbol AS TEXT) IS NULL OR symbol = :symbol)
  AND (CAST(:start AS DATE) IS NULL OR session_date >= :start)
  AND (CAST(:end AS DATE) IS NULL OR session_date <= :end)
ORDER BY session_date, symbol;
