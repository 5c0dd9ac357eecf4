-- Walk-forward fold of each evaluated episode, and the evidence behind each promotion decision:
-- paired bars, challengers tried against the champion (alpha spending), the alpha spent, the
-- deflated Sharpe ratio, and where the evaluation's returns and tear sheet are stored.
ALTER TABLE episodes ADD COLUMN IF NOT EXISTS fold BIGINT DEFAULT 0;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS n_bars BIGINT;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS n_tried BIGINT;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS alpha_spent DOUBLE PRECISION;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS deflated_sharpe DOUBLE PRECISION;
ALTER TABLE promotion_decisions ADD COLUMN IF NOT EXISTS report_uri TEXT;
