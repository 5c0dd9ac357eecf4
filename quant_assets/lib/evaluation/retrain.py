"""When to retrain a symbol's policy, and why: enough new clean data, or champion drift.

Drift is a hypothesis test with a stated false-alarm rate, not a Sharpe threshold: H0 "the
champion still earns >= 0 per episode net of costs", tested one-sided (Student t on the per-episode
PnL of every evaluation in which it defended its title since promotion; the evaluation that
promoted it is left out, its figures are inflated by selection). Below ``min_episodes`` there is
no test. A false alarm (drift signalled for a champion whose true mean is >= 0) happens with
probability <= ``alpha`` per check; ``benchmarks/promotion_gate.py`` measures it.

Each cause has a key that names exactly what triggered it (the newest clean day, the evaluation
showing the drift), so a sensor that uses the key as run key never fires twice for one cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from quant_assets.lib.warehouse.base import Warehouse


@dataclass(frozen=True)
class RetrainCause:
    symbol: str
    kind: str  # "new_data" or "drift"
    detail: str

    @property
    def key(self) -> str:
        return f"retrain:{self.symbol}:{self.kind}:{self.detail}"

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}"


def trained_through(warehouse: Warehouse, policy_id: str) -> date | None:
    """Last UTC day of clean data the policy was trained on (from its training run)."""
    rows = warehouse.query_named("champion_training_data", {"policy_id": policy_id}).to_pylist()
    if not rows or not rows[0]["data_version"]:
        return None
    keys = [part.split("=")[0] for part in str(rows[0]["data_version"]).split(",")]
    return max(date.fromisoformat(k.split("|")[0]) for k in keys)


def new_days(clean_days: list[date], trained_until: date | None) -> list[date]:
    """Clean sessions after the champion's training data (all of them without a champion)."""
    return [d for d in clean_days if trained_until is None or d > trained_until]


def new_data_cause(
    symbol: str, clean_days: list[date], trained_until: date | None, min_new_partitions: int
) -> RetrainCause | None:
    new = new_days(clean_days, trained_until)
    if len(new) < min_new_partitions:
        return None
    return RetrainCause(symbol, "new_data", f"{len(new)} new clean days through {max(new)}")


def costs_calibrated_through(warehouse: Warehouse, symbol: str, session: date) -> bool:
    """Whether ``cost_model_params`` of ``symbol`` cover ``session`` (a calibration at a session
    is stored as of the next midnight): training reads the stored calibration of its window, so
    a retrain waits for the recalibration of the new sessions instead of failing without it."""
    rows = warehouse.query(
        "SELECT max(as_of) AS as_of FROM cost_model_params WHERE symbol = :s", {"s": symbol}
    ).to_pylist()
    as_of = rows[0]["as_of"] if rows else None
    return as_of is not None and as_of.date() > session


def drift_test(pnl: list[float], alpha: float) -> tuple[bool, float]:
    """(drifted, p): one-sided t-test of mean(pnl) < 0."""
    from scipy import stats

    x = np.asarray(pnl, dtype=np.float64)
    if x.size < 2 or not np.std(x) > 0:
        return False, 1.0
    p = float(stats.ttest_1samp(x, 0.0, alternative="less").pvalue)
    return p <= alpha, p


def drift_cause(
    warehouse: Warehouse,
    symbol: str,
    champion_id: str,
    *,
    alpha: float = 0.05,
    min_episodes: int = 8,
) -> RetrainCause | None:
    """The champion's out-of-sample PnL as defending champion is significantly negative."""
    rows = warehouse.query_named(
        "champion_episodes_as_champion", {"policy_id": champion_id}
    ).to_pylist()
    if len(rows) < min_episodes:
        return None
    pnl = [float(r["final_pnl"]) for r in rows]
    drifted, p = drift_test(pnl, alpha)
    if not drifted:
        return None
    latest = rows[-1]["evaluation_id"]
    return RetrainCause(
        symbol,
        "drift",
        f"champion loses {np.mean(pnl):.4g} per episode net of costs over {len(pnl)} episodes "
        f"(p={p:.3f} <= {alpha}) through evaluation {latest}",
    )
