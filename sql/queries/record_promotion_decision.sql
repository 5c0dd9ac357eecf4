-- Re-running an evaluation's promotion replaces its decision row.
INSERT INTO promotion_decisions (
    evaluation_id, symbol, alias, challenger, champion, promoted, reason, metric, margin,
    n_episodes, mean_diff, ci_low, ci_high, lower_bound, p_value, decided_at, n_bars, n_tried,
    alpha_spent, deflated_sharpe, report_uri
)
VALUES (
    :evaluation_id, :symbol, :alias, :challenger, :champion, :promoted, :reason, :metric, :margin,
    :n_episodes, :mean_diff, :ci_low, :ci_high, :lower_bound, :p_value, :decided_at, :n_bars,
    :n_tried, :alpha_spent, :deflated_sharpe, :report_uri
)
ON CONFLICT (evaluation_id) DO UPDATE SET
    promoted = EXCLUDED.promoted,
    reason = EXCLUDED.reason,
    champion = EXCLUDED.champion,
    mean_diff = EXCLUDED.mean_diff,
    ci_low = EXCLUDED.ci_low,
    ci_high = EXCLUDED.ci_high,
    lower_bound = EXCLUDED.lower_bound,
    p_value = EXCLUDED.p_value,
    decided_at = EXCLUDED.decided_at,
    n_bars = EXCLUDED.n_bars,
    n_tried = EXCLUDED.n_tried,
    alpha_spent = EXCLUDED.alpha_spent,
    deflated_sharpe = EXCLUDED.deflated_sharpe,
    report_uri = EXCLUDED.report_uri;
