-- Register a trained policy artifact; re-registering the same id refreshes its record.
INSERT INTO policies (policy_id, run_id, algorithm, artifact_uri, metrics, created_at)
VALUES (:policy_id, :run_id, :algorithm, :artifact_uri, :metrics, :created_at)
ON CONFLICT (policy_id) DO UPDATE SET
    run_id = EXCLUDED.run_id,
    algorithm = EXCLUDED.algorithm,
    artifact_uri = EXCLUDED.artifact_uri,
    metrics = EXCLUDED.metrics,
    created_at = EXCLUDED.created_at;
