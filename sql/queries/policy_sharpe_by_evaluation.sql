-- Mean out-of-sample Sharpe of one policy in each evaluation that reached a decision, oldest first.
-- Episodes name a policy "<algorithm>-<first 12 chars of its id>" (training.artifact.policy_name).
SELECT e.evaluation_id, avg(e.sharpe) AS sharpe, max(d.decided_at) AS decided_at
FROM policies AS p
JOIN episodes AS e ON e.policy = lower(p.algorithm) || '-' || substr(p.policy_id, 1, 12)
JOIN promotion_decisions AS d ON d.evaluation_id = e.evaluation_id
WHERE p.policy_id = :policy_id
GROUP BY e.evaluation_id
ORDER BY decided_at;
