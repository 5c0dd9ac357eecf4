-- Held to the end of the retention transaction: blocks inserts into metrics (reads go on), so the
-- row count checked against the archive file is the one drop_chunks then removes.
LOCK TABLE metrics IN SHARE MODE;
