from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.events import EngineEventData

from quant_assets.lib.monitoring.training_progress import TrainingProgress
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import landing
from quant_assets.lib.ticks.rejections import Rejection, RejectionKind, write_rejection
from quant_assets.main_job import Stage, _training_stage, _Watch, rejections


def test_rejections_since_one_line_per_file_of_this_run(tmp_path: Path) -> None:
    store = ObjectStore.local(tmp_path)
    old = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(days=1)
    earlier = Rejection("auto/old.csv", RejectionKind.MALFORMED, "earlier", old)
    write_rejection(store, "landing/rejected/auto/old.csv", earlier, "earlier")
    since = datetime.now(tz=UTC)
    store.write_bytes("landing/incoming/auto/bad.csv", b"not,a,tick\nfile\n")
    (bad,) = landing.list_incoming(store)
    landing.reject(store, bad, "line 2, column 1: no timestamp\n  detail on a second line")
    assert rejections(store, since) == ({"auto/bad.csv": "line 2, column 1: no timestamp"}, {})


def test_rejections_unsupported_kind_reported_apart(tmp_path: Path) -> None:
    """A well-formed file of a kind deliberately not read (DBN mbo) does not fail the demo."""
    store = ObjectStore.local(tmp_path)
    since = datetime.now(tz=UTC)
    store.write_bytes("landing/incoming/auto/book.mbo.dbn.zst", b"x")
    (f,) = landing.list_incoming(store)
    reason = "book.mbo.dbn.zst: DBN schema mbo is not supported\n\nTraceback ..."
    landing.reject(store, f, reason, RejectionKind.UNSUPPORTED)
    malformed, unsupported = rejections(store, since)
    assert malformed == {}
    assert unsupported == {
        "auto/book.mbo.dbn.zst": "book.mbo.dbn.zst: DBN schema mbo is not supported"
    }


def test_rejections_trace_naming_unsupported_error_still_malformed(tmp_path: Path) -> None:
    """The kind is recorded, not guessed from the trace text."""
    store = ObjectStore.local(tmp_path)
    since = datetime.now(tz=UTC)
    store.write_bytes("landing/incoming/auto/odd.csv", b"x")
    (f,) = landing.list_incoming(store)
    trace = "Traceback ...\nquant_assets.lib.ticks.adapters.errors.UnsupportedFileError: nested"
    landing.reject(store, f, f"odd.csv: bad header\n\n{trace}")
    assert rejections(store, since) == ({"auto/odd.csv": "odd.csv: bad header"}, {})


def _instance_with_run() -> tuple[dg.DagsterInstance, dg.DagsterRun]:
    instance = dg.DagsterInstance.ephemeral()
    run = instance.create_run_for_job(dg.GraphDefinition("g").to_job())
    return instance, run


def test_training_stage_progress_events_latest_count_of_total() -> None:
    instance, run = _instance_with_run()
    watch = _Watch(instance, datetime.now(tz=UTC))
    assert _training_stage(watch, run.run_id, [run], 4096) == Stage("train", 0, 4096)
    instance.report_engine_event("Forked run worker", run)  # other engine events are ignored
    for done in (0, 1024, 2048):
        progress = TrainingProgress(done, 4096, done / 1000)
        instance.report_engine_event(
            progress.message(), run, EngineEventData(metadata=progress.metadata())
        )
    assert _training_stage(watch, run.run_id, [run], 4096) == Stage("train", 2048, 4096)
    progress = TrainingProgress(3072, 4096, 3.0)
    instance.report_engine_event("t", run, EngineEventData(metadata=progress.metadata()))
    assert _training_stage(watch, run.run_id, [run], 4096) == Stage("train", 3072, 4096)


def test_training_stage_finished_run_all_timesteps() -> None:
    instance, run = _instance_with_run()
    watch = _Watch(instance, datetime.now(tz=UTC))
    assert _training_stage(watch, run.run_id, [], 4096) == Stage("train", 4096, 4096)
    assert _training_stage(watch, None, [], 4096) == Stage("train", 0, 4096)
