-- A chunk of (session, symbol) builds from the registered Arrow batch `manifest_batch`.
INSERT INTO tick_manifest (
    session_date, symbol, market, status, raw_rows, clean_rows, quarantined_rows,
    raw_version, clean_version, quarantine_version, raw_key, clean_key, quarantine_key,
    reasons, run_id, built_at, possible_duplicates
)
SELECT session_date, symbol, market, status, raw_rows, clean_rows, quarantined_rows,
    raw_version, clean_version, quarantine_version, raw_key, clean_key, quarantine_key,
    reasons, run_id, built_at, possible_duplicates
FROM manifest_batch
ON CONFLICT (session_date, symbol) DO UPDATE SET
    market = EXCLUDED.market,
    status = EXCLUDED.status,
    raw_rows = EXCLUDED.raw_rows,
    clean_rows = EXCLUDED.clean_rows,
    quarantined_rows = EXCLUDED.quarantined_rows,
    raw_version = EXCLUDED.raw_version,
    clean_version = EXCLUDED.clean_version,
    quarantine_version = EXCLUDED.quarantine_version,
    raw_key = EXCLUDED.raw_key,
    clean_key = EXCLUDED.clean_key,
    quarantine_key = EXCLUDED.quarantine_key,
    reasons = EXCLUDED.reasons,
    run_id = EXCLUDED.run_id,
    built_at = EXCLUDED.built_at,
    possible_duplicates = EXCLUDED.possible_duplicates;
