"""Dry run of one tick partition with a checkout's code, against QA data, writing nothing there.

``python -m quant_assets.deploy.dry_run --partition 2024-01-02|XNYS [--symbol SYNA]`` (run by
``quant deploy`` in the new server's checkout): copies that market-session's staged vendor
pieces from the object store of the current environment (the QA deployment) into a scratch local
data root, then materialises ``raw_ticks``/``clean_ticks``/``tick_quarantine`` for it in process
on an ephemeral instance (synthetic ``--symbol``s are registered and generated there). Prints
one JSON line: ``{"ok": true, "raw_rows": n, "clean_rows": m, "symbols": k}`` or
``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ASSETS = ("raw_ticks", "clean_ticks", "tick_quarantine")
SYNTHETIC_TICKS = 2_000  # enough rows for every cleaning rule, quick to build


def copy_staged(partition: str, scratch: Path, symbols: list[str]) -> int:
    """Copy QA's staged pieces of the partition's market (only ``symbols`` when given) into the
    scratch root; returns how many objects were copied."""
    import re
    from datetime import date

    from quant_assets.lib.settings import Settings
    from quant_assets.lib.storage.object_store import ObjectStore
    from quant_assets.lib.ticks.lake import session_prefix
    from quant_assets.lib.ticks.landing import STAGED
    from quant_assets.lib.ticks.sessions import market_for
    from resources.object_store import ObjectStoreResource

    day_s, _, market = partition.partition("|")
    session = date.fromisoformat(day_s)
    qa = ObjectStoreResource.from_settings(Settings.from_env()).get_store()
    scratch_store = ObjectStore.local(scratch)
    pattern = re.compile(r"/symbol=(?P<s>[^/]+)/[^/]+\.parquet$")
    copied = 0
    for key in qa.list(session_prefix(STAGED, session)):
        m = pattern.search(key)
        if not m or market_for(m["s"]).name != market or (symbols and m["s"] not in symbols):
            continue
        scratch_store.write_bytes(key, qa.read_bytes(key))
        copied += 1
    return copied


def run(
    module: str, attribute: str, partition: str, symbols: list[str], scratch: Path
) -> dict[str, Any]:
    from quant_assets.lib.ticks.instruments import instrument_for

    synthetic = [s for s in symbols if instrument_for(s).synthetic]
    copied = copy_staged(partition, scratch, symbols)
    if not copied and not synthetic:
        return {"ok": False, "error": f"no staged ticks for {partition} in QA"}

    # The definitions read their resources from the environment when imported: point them at
    # the scratch root so that nothing the dry run writes reaches QA.
    os.environ.update({"QUANT_DEPLOYMENT": "local", "QUANT_DATA_ROOT": str(scratch)})
    import dagster as dg

    defs = getattr(importlib.import_module(module), attribute)
    if not isinstance(defs, dg.Definitions):  # a @dg.definitions function (the dg project)
        defs = defs()
    job = defs.resolve_implicit_global_asset_job_def()
    config = {"synthetic_ticks_per_session": SYNTHETIC_TICKS, "symbols": symbols or None}
    with dg.DagsterInstance.ephemeral() as instance:
        if synthetic:
            instance.add_dynamic_partitions("symbols", synthetic)
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition,
            asset_selection=[dg.AssetKey(a) for a in ASSETS],
            run_config={"ops": {"tick_lake_build": {"config": config}}},
            raise_on_error=False,
        )
    meta: dict[str, Any] = {}
    for mat in result.asset_materializations_for_node("tick_lake_build"):
        if mat.asset_key == dg.AssetKey("clean_ticks"):
            meta = {k: v.value for k, v in mat.metadata.items()}
    failed_checks = sorted(
        {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    )
    if not result.success and not meta:
        # the build itself failed (a blocking check failing on QA's data is not a code fault:
        # the partition was built and judged, which is what the dry run proves)
        failures = [
            e.event_specific_data.error.message.strip().splitlines()[0]  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure
        ]
        return {"ok": False, "error": "; ".join(failures) or "run failed"}
    raw_rows, clean_rows = int(meta.get("raw_rows", 0)), int(meta.get("rows", 0))
    if raw_rows <= 0:  # the build ran but read nothing: the check proved nothing
        return {"ok": False, "error": f"{partition}: the build read no raw rows"}
    return {
        "ok": True,
        "failed_checks": failed_checks,
        "raw_rows": raw_rows,
        "clean_rows": clean_rows,
        "symbols": int(meta.get("symbols", 0)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--module", default="quant_assets.definitions")
    parser.add_argument("--attribute", default="defs")
    parser.add_argument("--partition", required=True, help="session|market, e.g. 2024-01-02|XNYS")
    parser.add_argument(
        "--symbol", action="append", default=[], help="only this symbol (repeatable)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quant-dry-run-") as tmp:
        try:
            result = run(args.module, args.attribute, args.partition, args.symbol, Path(tmp))
        except Exception as exc:  # reported as one JSON line
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
