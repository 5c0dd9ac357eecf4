-- The tick lake's manifest: one row per (session, symbol) with the objects of its raw, clean and
-- quarantine outputs, their row counts and content versions. A build writes new objects first
-- and this row last, in one transaction per symbol chunk: readers trust only this table, so a
-- killed build leaves the previous version (or none) and orphaned objects are swept later.
CREATE TABLE IF NOT EXISTS tick_manifest (
    session_date        DATE NOT NULL,
    symbol              TEXT NOT NULL,
    market              TEXT NOT NULL,
    status              TEXT NOT NULL,
    raw_rows            BIGINT NOT NULL,
    clean_rows          BIGINT NOT NULL,
    quarantined_rows    BIGINT NOT NULL,
    raw_version         TEXT NOT NULL,
    clean_version       TEXT NOT NULL,
    quarantine_version  TEXT NOT NULL,
    raw_key             TEXT NOT NULL,
    clean_key           TEXT NOT NULL,
    quarantine_key      TEXT NOT NULL,
    reasons             TEXT,
    run_id              TEXT,
    built_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_date, symbol)
);
CREATE INDEX IF NOT EXISTS tick_manifest_market_session ON tick_manifest (market, session_date);
CREATE INDEX IF NOT EXISTS tick_manifest_symbol_session ON tick_manifest (symbol, session_date);
