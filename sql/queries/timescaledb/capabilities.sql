-- What this server offers: the Apache-2 build reports license 'apache' and lacks continuous
-- aggregates, compression and retention policies.
SELECT
    (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_version,
    (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb')
        AS timescaledb_available,
    current_setting('timescaledb.license', true) AS license,
    current_setting('server_version') AS server_version;
