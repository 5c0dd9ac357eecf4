"""Dry run of one tick partition with a checkout's code, against QA data, writing nothing there.

``python -m quant_assets.deploy.dry_run --partition 2024-01-02|SYNA`` (run by ``quant deploy``
in the new server's checkout): copies that partition's raw ticks from the object store of the
current environment (the QA deployment) into a scratch local data root, then materialises
``clean_ticks``/``tick_quarantine`` for it in process on an ephemeral instance. Prints one JSON
line: ``{"ok": true, "raw_rows": n, "clean_rows": m}`` or ``{"ok": false, "error": "..."}``.
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

ASSETS = ("clean_ticks", "tick_quarantine")


def run(module: str, attribute: str, partition: str, scratch: Path) -> dict[str, Any]:
    from datetime import date

    import pyarrow.parquet as pq

    from quant_assets.lib.settings import Settings
    from quant_assets.lib.storage.object_store import ObjectStore
    from quant_assets.lib.ticks.lake import Dataset, partition_object
    from resources.object_store import ObjectStoreResource

    day_s, _, symbol = partition.partition("|")
    day = date.fromisoformat(day_s)
    qa = ObjectStoreResource.from_settings(Settings.from_env()).get_store()
    key = partition_object(Dataset.RAW, day, symbol)
    if not qa.exists(key):
        return {"ok": False, "error": f"no raw ticks for {partition} in QA ({qa.uri(key)})"}
    ObjectStore.local(scratch).write_bytes(key, qa.read_bytes(key))

    # The definitions read their resources from the environment when imported: point them at
    # the scratch root so that nothing the dry run writes reaches QA.
    os.environ.update({"QUANT_DEPLOYMENT": "local", "QUANT_DATA_ROOT": str(scratch)})
    import dagster as dg

    defs = getattr(importlib.import_module(module), attribute)
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("symbols", [symbol])
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition,
            asset_selection=[dg.AssetKey(a) for a in ASSETS],
            raise_on_error=False,
        )
    if not result.success:
        failures = [
            e.event_specific_data.error.message.strip().splitlines()[0]  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure
        ]
        return {"ok": False, "error": "; ".join(failures) or "run failed"}
    clean = scratch / partition_object(Dataset.CLEAN, day, symbol)
    raw_rows = pq.ParquetFile(scratch / key).metadata.num_rows
    clean_rows = pq.ParquetFile(clean).metadata.num_rows if clean.exists() else None
    if clean_rows is None:
        return {"ok": False, "error": f"no clean partition written for {partition}"}
    return {"ok": True, "raw_rows": raw_rows, "clean_rows": clean_rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--module", default="quant_assets.definitions")
    parser.add_argument("--attribute", default="defs")
    parser.add_argument("--partition", required=True, help="date|symbol, e.g. 2024-01-02|SYNA")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quant-dry-run-") as tmp:
        try:
            result = run(args.module, args.attribute, args.partition, Path(tmp))
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
