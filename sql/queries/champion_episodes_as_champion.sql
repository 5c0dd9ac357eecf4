-- Out-of-sample episodes of a policy in the evaluations where it was the defending champion
-- (never the evaluation that promoted it: that one is biased upwards by selection), oldest first.
-- Episodes name a policy "<algorithm>-<first 12 chars of its id>" (training.artifact.policy_name).
SELECT e.evaluation_id, e.episode_id, e.final_pnl, d.decided_at
FROM policies AS p
JOIN episodes AS e ON e.policy = lower(p.algorithm) || '-' || substr(p.policy_id, 1, 12)
JOIN promotion_decisions AS d ON d.evaluation_id = e.evaluation_id AND d.champion = p.policy_id
WHERE p.policy_id = :policy_id AND e.final_pnl IS NOT NULL
ORDER BY d.decided_at, e.evaluation_id, e.episode_id;
