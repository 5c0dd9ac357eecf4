SELECT run_id FROM training_runs WHERE run_id = ANY(CAST(:run_ids AS TEXT[]));
