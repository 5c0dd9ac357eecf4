-- The promotion decisions of one symbol, newest first (the champion view).
SELECT decided_at, evaluation_id, challenger, champion, promoted, p_value, alpha_spent, n_tried,
       n_bars, mean_diff, reason, report_uri
FROM promotion_decisions
WHERE symbol = :symbol
ORDER BY decided_at DESC
LIMIT :limit;
