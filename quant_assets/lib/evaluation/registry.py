"""Policy aliases per symbol: blue/green for policies.

``production:<SYMBOL>`` points at the champion; the same row keeps the policy it replaced as
``previous_policy_id``, so a promotion and its undo are each one atomic statement.
"""

from __future__ import annotations

from pathlib import Path

from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.training.artifact import LoadedPolicy, load_policy
from quant_assets.lib.training.pipeline import artifact_prefix, download_artifact
from quant_assets.lib.warehouse.base import PolicyAlias, UnknownPolicyError, Warehouse

PRODUCTION = "production"


class NothingToRollBackError(RuntimeError):
    """The alias has no previous policy to return to."""


def production_alias(symbol: str) -> str:
    return f"{PRODUCTION}:{symbol}"


def champion_id(warehouse: Warehouse, symbol: str) -> str | None:
    alias = warehouse.get_alias(production_alias(symbol))
    return alias.policy_id if alias else None


def rollback(warehouse: Warehouse, symbol: str) -> PolicyAlias:
    """Point production back at the previous champion (the current one becomes previous)."""
    alias = warehouse.get_alias(production_alias(symbol))
    if alias is None or alias.previous_policy_id is None:
        raise NothingToRollBackError(f"{production_alias(symbol)} has no previous policy")
    return warehouse.set_alias(alias.alias, alias.previous_policy_id)


def resolve(warehouse: Warehouse, reference: str, symbol: str) -> str:
    """A policy id from an id or an alias name (``production``/``previous`` for ``symbol``)."""
    if reference in (PRODUCTION, "previous"):
        alias = warehouse.get_alias(production_alias(symbol))
        target = (
            None
            if alias is None
            else (alias.policy_id if reference == PRODUCTION else alias.previous_policy_id)
        )
        if target is None:
            raise UnknownPolicyError(f"no {reference} policy for {symbol}")
        return target
    rows = warehouse.query(
        "SELECT policy_id FROM policies WHERE policy_id = :p", {"p": reference}
    ).to_pylist()
    if not rows:
        raise UnknownPolicyError(f"no registered policy {reference!r}")
    return reference


def load_registered(
    store: ObjectStore, warehouse: Warehouse, reference: str, symbol: str, cache_dir: Path
) -> LoadedPolicy:
    """Load a policy by id or alias: both paths read the same immutable artifact."""
    policy_id = resolve(warehouse, reference, symbol)
    return load_policy(download_artifact(store, artifact_prefix(symbol, policy_id), cache_dir))
