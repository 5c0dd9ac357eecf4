-- Sessions with clean rows, for every symbol at once (the retrain sensor's one query per tick).
SELECT symbol, session_date
FROM tick_manifest
WHERE clean_rows > 0
ORDER BY symbol, session_date;
