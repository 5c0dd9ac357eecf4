SELECT alias, policy_id, previous_policy_id, updated_at
FROM policy_aliases
WHERE alias = :alias;
