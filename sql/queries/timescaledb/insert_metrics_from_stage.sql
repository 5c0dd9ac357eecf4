-- Move a staged batch into the hypertable. Codes are 0-based positions in the :run_ids / :names
-- dictionaries; rows of runs missing from training_runs are left out (the caller counts them as
-- rejected), and rows already present are skipped so a replayed batch is a no-op.
-- (An anti-join NOT EXISTS variant was ~2x faster on small chunks but the planner probes the key
-- index on (run_id, name) only, going quadratic as a chunk grows; ON CONFLICT is plan-proof.)
INSERT INTO metrics (time, run_id, name, step, value)
SELECT s.time, r.run_id, n.name, s.step, s.value
FROM metrics_stage AS s
JOIN unnest(CAST(:run_ids AS TEXT[])) WITH ORDINALITY AS r(run_id, k) ON r.k = s.run_k + 1
JOIN unnest(CAST(:names AS TEXT[])) WITH ORDINALITY AS n(name, k) ON n.k = s.name_k + 1
WHERE r.run_id IN (SELECT t.run_id FROM training_runs AS t)
ON CONFLICT DO NOTHING;
