-- One evaluated episode; re-running the same evaluation replaces its rows.
INSERT INTO episodes (
    evaluation_id, policy, run_id, episode_id, split, start_ts, end_ts, ep_reward, max_dd,
    final_pnl, sharpe, turnover, cost_commission, cost_spread, cost_impact, cost_total, n_trades,
    cost_model_version, fold
)
VALUES (
    :evaluation_id, :policy, :run_id, :episode_id, :split, :start_ts, :end_ts, :ep_reward, :max_dd,
    :final_pnl, :sharpe, :turnover, :cost_commission, :cost_spread, :cost_impact, :cost_total,
    :n_trades, :cost_model_version, :fold
)
ON CONFLICT (evaluation_id, policy, episode_id, split) DO UPDATE SET
    run_id = EXCLUDED.run_id,
    start_ts = EXCLUDED.start_ts,
    end_ts = EXCLUDED.end_ts,
    ep_reward = EXCLUDED.ep_reward,
    max_dd = EXCLUDED.max_dd,
    final_pnl = EXCLUDED.final_pnl,
    sharpe = EXCLUDED.sharpe,
    turnover = EXCLUDED.turnover,
    cost_commission = EXCLUDED.cost_commission,
    cost_spread = EXCLUDED.cost_spread,
    cost_impact = EXCLUDED.cost_impact,
    cost_total = EXCLUDED.cost_total,
    n_trades = EXCLUDED.n_trades,
    cost_model_version = EXCLUDED.cost_model_version,
    fold = EXCLUDED.fold;
