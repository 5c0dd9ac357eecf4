-- A failed run; the sensor may see the same failure again after a restart.
INSERT INTO run_failures (run_id, job_name, partition_key, error, failed_at)
VALUES (:run_id, :job_name, :partition_key, :error, :failed_at)
ON CONFLICT (run_id) DO NOTHING;
