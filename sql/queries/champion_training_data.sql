-- The partitions a policy was trained on, as recorded with its training run.
SELECT tr.data_version
FROM policies AS p
JOIN training_runs AS tr ON tr.run_id = p.run_id
WHERE p.policy_id = :policy_id;
