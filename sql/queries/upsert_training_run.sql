-- Register or update a training run; the writer validates metrics against this table.
INSERT INTO training_runs (
    run_id, policy_id, algorithm, config, data_version, code_version, started_at, ended_at, status
)
VALUES (
    :run_id, :policy_id, :algorithm, :config, :data_version, :code_version, :started_at, :ended_at,
    :status
)
ON CONFLICT (run_id) DO UPDATE SET
    policy_id = EXCLUDED.policy_id,
    algorithm = EXCLUDED.algorithm,
    config = EXCLUDED.config,
    data_version = EXCLUDED.data_version,
    code_version = EXCLUDED.code_version,
    started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at,
    status = EXCLUDED.status;
