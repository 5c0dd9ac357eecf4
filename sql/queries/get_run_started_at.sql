SELECT started_at FROM training_runs WHERE run_id = :run_id;
