-- Champion/challenger decisions with the figures behind them (one per evaluation).
CREATE TABLE IF NOT EXISTS promotion_decisions (
    evaluation_id   TEXT PRIMARY KEY,
    symbol          TEXT NOT NULL,
    alias           TEXT NOT NULL,
    challenger      TEXT NOT NULL,
    champion        TEXT,
    promoted        BOOLEAN NOT NULL,
    reason          TEXT NOT NULL,
    metric          TEXT NOT NULL,
    margin          DOUBLE PRECISION NOT NULL,
    n_episodes      BIGINT NOT NULL,
    mean_diff       DOUBLE PRECISION,
    ci_low          DOUBLE PRECISION,
    ci_high         DOUBLE PRECISION,
    lower_bound     DOUBLE PRECISION,
    p_value         DOUBLE PRECISION,
    decided_at      TIMESTAMPTZ NOT NULL
);
