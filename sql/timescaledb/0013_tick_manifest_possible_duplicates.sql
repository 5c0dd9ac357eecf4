-- Identical rows a build kept for lack of evidence they are errors (no trade id or sequence
-- number): counted per (session, symbol) so they can be queried, not only read in run metadata.
ALTER TABLE tick_manifest ADD COLUMN IF NOT EXISTS possible_duplicates BIGINT DEFAULT 0;
