-- Move a registered Arrow batch (metrics_batch) into metrics; rows of unknown runs are left out
-- (the caller counts them as rejected) and rows already present are skipped (idempotent replay).
INSERT INTO metrics (time, run_id, name, step, value)
SELECT b.time, b.run_id, b.name, b.step, b.value
FROM metrics_batch AS b
WHERE b.run_id IN (SELECT t.run_id FROM training_runs AS t)
ON CONFLICT DO NOTHING;
