-- Full set of registered runs: the metrics writer's validation cache.
SELECT run_id FROM training_runs;
