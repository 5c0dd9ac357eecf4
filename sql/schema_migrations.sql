-- Bookkeeping of the migration runner (same DDL on every backend). `name` is the file that was
-- applied (a capability variant such as 0002_x.continuous_aggregates.sql when one was chosen).
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);
