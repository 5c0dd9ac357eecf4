"""The main job: land vendor files, ingest them, and build raw + clean partitions with checks.

Runs each partition as its own Dagster run on the current instance, so the UI shows the same
history a sensor- or backfill-driven deployment would, and one bad file or partition fails alone.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from quant_assets.definitions import build_defs
from quant_assets.defs.jobs import cost_model_job, ingest_landing_job, tick_lake_job
from quant_assets.defs.partitions import landing_file_partitions, symbol_partitions
from quant_assets.lib.settings import Settings
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.landing import AUTO_SOURCE, INCOMING
from quant_assets.lib.ticks.sessions import market_for
from resources.object_store import ObjectStoreResource


@dataclass
class PartitionOutcome:
    partition: str
    success: bool
    raw: int | None = None
    clean: int | None = None
    quarantined: int | None = None
    checks: dict[str, bool] = field(default_factory=dict)


@dataclass
class MainJobReport:
    partitions: list[PartitionOutcome] = field(default_factory=list)
    ingested: dict[str, list[str]] = field(default_factory=dict)  # file -> session|market keys
    rejected: dict[str, str] = field(default_factory=dict)  # file -> reason
    unsupported: dict[str, str] = field(default_factory=dict)  # well-formed, deliberately unread
    calibrated: dict[str, bool] = field(default_factory=dict)  # partition -> cost run succeeded
    training: dict[str, object] = field(default_factory=dict)

    @property
    def unexpected_failures(self) -> list[str]:
        failed = [p.partition for p in self.partitions if not p.success]
        failed += [f"costs {k}" for k, ok in self.calibrated.items() if not ok]
        if self.training and not self.training["success"]:
            failed.append("train_policy")
        return failed

    def render(self) -> str:
        lines = [f"{'partition':<24}{'raw':>9}{'clean':>9}{'quarantined':>13}  checks"]
        for p in self.partitions:
            checks = ", ".join(
                f"{k}={'pass' if v else 'FAIL'}" for k, v in sorted(p.checks.items())
            )
            status = checks if p.success else "RUN FAILED"
            counts = f"{p.raw or 0:>9}{p.clean or 0:>9}{p.quarantined or 0:>13}"
            lines.append(f"{p.partition:<24}{counts}  {status}")
        for f, parts in self.ingested.items():
            lines.append(f"ingested {f} -> {', '.join(parts)}")
        for f, reason in self.rejected.items():
            lines.append(f"rejected {f}: {reason}")
        for f, reason in self.unsupported.items():
            lines.append(f"not ingested (unsupported) {f}: {reason}")
        ok = sum(self.calibrated.values())
        lines.append(f"cost_model_params calibrated for {ok} of {len(self.calibrated)} partitions")
        if self.training:
            t = self.training
            lines.append(
                f"trained {t['policy']}: promoted={t['promoted']} ({t['reason']})"
                if t["success"]
                else "train_policy FAILED"
            )
        return "\n".join(lines)


def _metadata_value(result: dg.ExecuteInProcessResult, asset: str, key: str) -> object:
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key == dg.AssetKey(asset) and key in mat.metadata:
            return mat.metadata[key].value
    return None


def run_main_job(
    days: Sequence[date],
    synthetic_symbols: Sequence[str],
    vendor_files: Sequence[tuple[Path, str]],
    echo: Callable[[str], None] = print,
    instance: dg.DagsterInstance | None = None,
    settings: Settings | None = None,
    train_symbol: str | None = None,
    train_timesteps: int = 2_048,
) -> MainJobReport:
    instance = instance or dg.DagsterInstance.get()
    settings = settings or Settings.from_env()
    defs = build_defs(settings)
    store = ObjectStoreResource.from_settings(settings).get_store()
    report = MainJobReport()

    for path, relative in vendor_files:
        store.write_bytes(f"{INCOMING}/{AUTO_SOURCE}/{relative}", path.read_bytes())
    files = landing.list_incoming(store)
    instance.add_dynamic_partitions(
        landing_file_partitions.name or "landing_files", [f.partition_key for f in files]
    )
    ingest = defs.resolve_job_def(ingest_landing_job.name)
    tick_keys: set[str] = set()
    for f in files:
        echo(f"ingesting {f.key}")
        result = ingest.execute_in_process(
            partition_key=f.partition_key, instance=instance, raise_on_error=False
        )
        if result.success:
            parts = _metadata_value(result, "landing_files", "tick_partitions") or []
            assert isinstance(parts, list)
            report.ingested[f.key] = parts
            tick_keys.update(parts)
        else:
            data = result.get_step_failure_events()[0].step_failure_data
            message = data.error.message.strip() if data.error else "failed"
            user = data.user_failure_data
            meta = user.metadata if user is not None else {}
            unsupported = "unsupported" in meta and bool(meta["unsupported"].value)
            if user is not None and user.description:
                message = user.description  # without the exception class name
            (report.unsupported if unsupported else report.rejected)[f.key] = message

    instance.add_dynamic_partitions(symbol_partitions.name or "symbols", list(synthetic_symbols))
    tick_keys.update(
        f"{d.isoformat()}|{market_for(s).name}" for d in days for s in synthetic_symbols
    )

    build = defs.resolve_job_def(tick_lake_job.name)
    for key in sorted(tick_keys):
        echo(f"building {key}")
        result = build.execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )
        outcome = PartitionOutcome(partition=key, success=result.success)
        outcome.raw = _metadata_value(result, "raw_ticks", "rows")  # type: ignore[assignment]
        outcome.clean = _metadata_value(result, "clean_ticks", "rows")  # type: ignore[assignment]
        outcome.quarantined = _metadata_value(result, "tick_quarantine", "rows")  # type: ignore[assignment]
        for evaluation in result.get_asset_check_evaluations():
            outcome.checks[evaluation.check_name] = evaluation.passed
        report.partitions.append(outcome)

    calibrate = defs.resolve_job_def(cost_model_job.name)
    for key in sorted(k for k in tick_keys if report_ok(report, k)):
        echo(f"calibrating costs {key}")
        result = calibrate.execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False
        )
        report.calibrated[key] = result.success

    if train_symbol:
        echo(f"training, evaluating and gating a policy for {train_symbol}")
        result = defs.resolve_job_def("train_policy").execute_in_process(
            partition_key=train_symbol,
            instance=instance,
            raise_on_error=False,
            run_config={
                "ops": {
                    "trained_policy": {
                        "config": {"total_timesteps": train_timesteps, "reason": "quant demo"}
                    },
                    "episodes": {"config": {"n_episodes": 4}},
                }
            },
        )
        report.training = {
            "success": result.success,
            "policy": _metadata_value(result, "trained_policy", "policy_name"),
            "promoted": _metadata_value(result, "policy_promotion", "promoted"),
            "reason": _metadata_value(result, "policy_promotion", "reason"),
        }
    return report


def report_ok(report: MainJobReport, key: str) -> bool:
    return any(p.partition == key and p.success for p in report.partitions)
