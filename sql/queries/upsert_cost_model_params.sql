-- Calibrated cost-model parameters for one symbol and model version.
INSERT INTO cost_model_params (symbol, version, as_of, params)
VALUES (:symbol, :version, :as_of, :params)
ON CONFLICT (symbol, version) DO UPDATE SET
    as_of = EXCLUDED.as_of,
    params = EXCLUDED.params;
