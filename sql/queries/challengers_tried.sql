-- Decisions already taken for a symbol against a given champion ('' = against flat) since
-- :since: the k - 1 of the alpha-spending rule.
SELECT count(*) AS n
FROM promotion_decisions
WHERE symbol = :symbol AND coalesce(champion, '') = :champion AND decided_at >= :since;
