SELECT count(*) FROM metrics_batch AS b
WHERE b.run_id NOT IN (SELECT t.run_id FROM training_runs AS t);
