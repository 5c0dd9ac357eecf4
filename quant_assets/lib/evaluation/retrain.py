"""When to retrain a symbol's policy, and why: enough new clean data, or champion drift.

Each cause has a key that names exactly what triggered it (the newest clean day, the evaluation
showing the drift), so a sensor that uses the key as run key never fires twice for one cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


def new_data_cause(
    symbol: str, clean_days: list[date], trained_until: date | None, min_new_partitions: int
) -> RetrainCause | None:
    new = [d for d in clean_days if trained_until is None or d > trained_until]
    if len(new) < min_new_partitions:
        return None
    return RetrainCause(symbol, "new_data", f"{len(new)} new clean days through {max(new)}")


def drift_cause(
    warehouse: Warehouse, symbol: str, champion_id: str, max_sharpe_drop: float
) -> RetrainCause | None:
    """The champion's latest evaluated Sharpe fell more than ``max_sharpe_drop`` below the
    Sharpe of the evaluation that promoted it."""
    history = warehouse.query_named(
        "policy_sharpe_by_evaluation", {"policy_id": champion_id}
    ).to_pylist()
    if len(history) < 2:
        return None
    first, last = history[0], history[-1]
    drop = float(first["sharpe"]) - float(last["sharpe"])
    if drop <= max_sharpe_drop:
        return None
    return RetrainCause(
        symbol, "drift", f"sharpe fell {drop:.2f} in evaluation {last['evaluation_id']}"
    )
