-- Core warehouse schema (DuckDB dialect). Keep in step with sql/timescaledb/0001_core.sql:
-- the only differences are JSON vs JSONB, the hypertable conversion and the "C" collation.
CREATE TABLE IF NOT EXISTS training_runs (
    run_id        TEXT PRIMARY KEY,
    policy_id     TEXT,
    algorithm     TEXT NOT NULL,
    config        JSON NOT NULL DEFAULT '{}',
    data_version  TEXT,
    code_version  TEXT,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    status        TEXT NOT NULL DEFAULT 'running'
);

-- Training metrics. A row is identified by (run_id, name, step, time): the writer fixes `time`
-- when log() is called and carries it through the spool, so a replayed batch hits the same key
-- and is skipped. `time` must be part of any unique index on a hypertable; the key's column order
-- (run_id, name, time, step) also serves "metric X of run Y over time" reads.
CREATE TABLE IF NOT EXISTS metrics (
    time    TIMESTAMPTZ NOT NULL,
    run_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    step    BIGINT NOT NULL,
    value   DOUBLE PRECISION NOT NULL,
    CONSTRAINT metrics_key UNIQUE (run_id, name, time, step)
);

CREATE TABLE IF NOT EXISTS episodes (
    -- One evaluation (a Dagster run of the episodes asset) scores the challenger, the champion
    -- and the baselines on the same windows; run_id is the evaluated policy's training run.
    evaluation_id       TEXT NOT NULL,
    policy              TEXT NOT NULL,
    run_id              TEXT NOT NULL,
    episode_id          BIGINT NOT NULL,
    split               TEXT NOT NULL,
    start_ts            TIMESTAMPTZ,
    end_ts              TIMESTAMPTZ,
    ep_reward           DOUBLE PRECISION,
    max_dd              DOUBLE PRECISION,
    final_pnl           DOUBLE PRECISION,
    sharpe              DOUBLE PRECISION,
    turnover            DOUBLE PRECISION,
    cost_commission     DOUBLE PRECISION,
    cost_spread         DOUBLE PRECISION,
    cost_impact         DOUBLE PRECISION,
    cost_total          DOUBLE PRECISION,
    n_trades            BIGINT,
    cost_model_version  TEXT,
    PRIMARY KEY (evaluation_id, policy, episode_id, split)
);

CREATE TABLE IF NOT EXISTS cost_model_params (
    symbol   TEXT NOT NULL,
    version  TEXT NOT NULL,
    as_of    TIMESTAMPTZ NOT NULL,
    params   JSON NOT NULL,
    PRIMARY KEY (symbol, version)
);

CREATE TABLE IF NOT EXISTS policies (
    policy_id     TEXT PRIMARY KEY,
    run_id        TEXT,
    algorithm     TEXT NOT NULL,
    artifact_uri  TEXT NOT NULL,
    metrics       JSON NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS policy_aliases (
    alias               TEXT PRIMARY KEY,
    policy_id           TEXT NOT NULL,
    previous_policy_id  TEXT,
    updated_at          TIMESTAMPTZ NOT NULL
);
