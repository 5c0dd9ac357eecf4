-- Atomic alias flip in one statement: the row's old target becomes previous_policy_id (kept when
-- re-pointing at the same policy). Selecting from policies makes an unknown policy insert nothing,
-- which the caller turns into an error.
INSERT INTO policy_aliases (alias, policy_id, previous_policy_id, updated_at)
SELECT :alias, p.policy_id, NULL, :updated_at
FROM policies AS p
WHERE p.policy_id = :policy_id
ON CONFLICT (alias) DO UPDATE SET
    previous_policy_id = CASE
        WHEN policy_aliases.policy_id = EXCLUDED.policy_id THEN policy_aliases.previous_policy_id
        ELSE policy_aliases.policy_id
    END,
    policy_id = EXCLUDED.policy_id,
    updated_at = EXCLUDED.updated_at
RETURNING alias, policy_id, previous_policy_id, updated_at;
