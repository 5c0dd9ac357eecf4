"""The tick build fanned out over symbol chunks: one executor step per chunk, one commit step
that writes the manifest after every chunk's objects exist."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from quant_assets.defs.tick_steps import STEP_IO_PREFIX
from quant_assets.defs.ticks import tick_lake
from quant_assets.lib.storage.object_store import ObjectStore
from quant_assets.lib.ticks import manifest
from quant_assets.lib.ticks.lake import Dataset
from quant_assets.lib.ticks.landing import STAGED
from resources.object_store import ObjectStoreResource
from resources.warehouse import WarehouseResource

KEY = "2024-01-02|XNYS"
SMALL = 300


def _resources(tmp_path: Path) -> dict[str, Any]:
    return {
        "object_store": ObjectStoreResource(root=str(tmp_path / "lake")),
        "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "wh.duckdb")),
    }


def _build(
    instance: dg.DagsterInstance, resources: dict[str, Any], **config: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [tick_lake],
        partition_key=KEY,
        instance=instance,
        resources=resources,
        run_config={
            "ops": {"tick_lake_build": {"config": {"synthetic_ticks_per_session": SMALL, **config}}}
        },
        raise_on_error=False,
    )


def _chunk_steps(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """step key -> outcome of every build_chunk step."""
    out = {}
    for event in result.all_events:
        key = event.step_key or ""
        if "build_chunk[" in key and (event.is_step_success or event.is_step_failure):
            out[key] = "success" if event.is_step_success else "failure"
    return out


def _lake_objects(store: ObjectStore) -> set[str]:
    return {k for dataset in Dataset for k in store.list(f"{dataset}/")}


def test_tick_lake_chunk_size_one_one_step_per_symbol_then_one_commit(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA", "SYNB"])
    resources = _resources(tmp_path)
    result = _build(instance, resources, chunk_size=1)
    assert result.success
    assert _chunk_steps(result) == {
        "tick_lake_build.build_chunk[d20240102_XNYS_c00000]": "success",
        "tick_lake_build.build_chunk[d20240102_XNYS_c00001]": "success",
    }
    rows = resources["warehouse"].get_warehouse().tick_manifest(market="XNYS")
    assert sorted(r["symbol"] for r in rows) == ["SYNA", "SYNB"]
    (clean,) = [m for m in result.get_asset_materialization_events() if "clean" in str(m.asset_key)]
    assert clean.materialization.metadata["symbols"].value == 2
    store = resources["object_store"].get_store()
    # the values passed between the steps are gone once committed; only manifest objects stay
    assert list(store.list(f"{STEP_IO_PREFIX}/")) == []
    committed = {k for r in rows for k in (r["raw_key"], r["clean_key"], r["quarantine_key"])}
    assert _lake_objects(store) == committed


def test_tick_lake_symbols_config_one_symbol_rebuilt_others_untouched(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA", "SYNB"])
    resources = _resources(tmp_path)
    first = _build(instance, resources, chunk_size=1)
    again = _build(instance, resources, chunk_size=1, symbols=["SYNB"], synthetic_seed=7)
    assert first.success and again.success
    assert list(_chunk_steps(again)) == ["tick_lake_build.build_chunk[d20240102_XNYS_c00000]"]
    rows = {r["symbol"]: r for r in resources["warehouse"].get_warehouse().tick_manifest()}
    assert rows["SYNA"]["run_id"] == first.run_id
    assert rows["SYNB"]["run_id"] == again.run_id


def test_tick_lake_chunk_step_fails_nothing_committed_and_rebuild_sweeps(tmp_path: Path) -> None:
    """A failing chunk stops the commit: the other chunk's objects were written but no manifest
    row points at them (readers see nothing); the next good build commits and sweeps them."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("symbols", ["SYNA"])
    resources = _resources(tmp_path)
    store = resources["object_store"].get_store()
    bad = f"{STAGED}/year=2024/month=01/day=02/symbol=AAPL/broken.parquet"
    store.write_bytes(bad, b"not a parquet file")
    failed = _build(instance, resources, chunk_size=1)
    assert not failed.success
    assert sorted(_chunk_steps(failed).values()) == ["failure", "success"]
    wh = resources["warehouse"].get_warehouse()
    assert manifest.read(wh) == []
    written = _lake_objects(store)
    assert any("symbol=SYNA" in k for k in written)  # SYNA's chunk wrote before the failure

    store.delete(bad)
    rebuilt = _build(instance, resources, chunk_size=1)
    assert rebuilt.success
    (entry,) = manifest.read(wh)
    assert entry.symbol == "SYNA"
    assert _lake_objects(store) == set(entry.keys().values())


# --------------------------------------------------------------------------- separate processes


@pytest.fixture
def fresh_forkserver() -> Any:
    """The forkserver the multiprocess executor forks steps from is one per Python process and
    keeps the environment it started with: stop it around each test so step processes see this
    test's ``QUANT_DATA_ROOT``, not an earlier test's."""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # type: ignore[attr-defined]
    yield
    forkserver._forkserver._stop()  # type: ignore[attr-defined]


def tick_job_multiprocess() -> Any:
    """The code location's own tick job (multiprocess executor locally), reconstructed in each
    step process from ``quant_assets.definitions``; resources from the environment."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repo = ReconstructableRepository.for_module(
        "quant_assets.definitions", "defs", working_directory=str(Path(__file__).parents[2])
    )
    return repo.get_reconstructable_job("tick_lake")


@pytest.mark.slow
def test_tick_lake_local_executor_chunks_run_in_separate_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_forkserver: None
) -> None:
    monkeypatch.setenv("QUANT_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("QUANT_DEPLOYMENT", "local")
    monkeypatch.setenv("QUANT_TICK_MAX_CONCURRENT", "2")  # one process per step
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions("symbols", ["SYNA", "SYNB"])
        result = dg.execute_job(
            tick_job_multiprocess(),
            instance=instance,
            tags={"dagster/partition": KEY},
            run_config={
                "ops": {
                    "tick_lake_build": {
                        "config": {"synthetic_ticks_per_session": SMALL, "chunk_size": 1}
                    }
                }
            },
            raise_on_error=False,
        )
        assert result.success
        pids = {
            event.step_key: event.step_output_data.metadata["worker_pid"].value  # type: ignore[union-attr]
            for event in result.all_events
            if event.is_successful_output and "build_chunk[" in (event.step_key or "")
        }
    assert len(pids) == 2 and len(set(pids.values())) == 2, pids
    assert os.getpid() not in set(pids.values())


@pytest.mark.slow
def test_tick_lake_chunk_process_sigkilled_nothing_committed_then_rebuild_sweeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_forkserver: None
) -> None:
    """A chunk step's process killed mid-build (SIGKILL, a real process of the multiprocess
    executor): the commit step never runs, the manifest stays empty, and the next build commits
    and sweeps what the killed run wrote."""
    import signal
    import threading
    import time

    from dagster._core.events import DagsterEventType

    data = tmp_path / "data"
    monkeypatch.setenv("QUANT_DATA_ROOT", str(data))
    monkeypatch.setenv("QUANT_DEPLOYMENT", "local")
    monkeypatch.setenv("QUANT_TICK_MAX_CONCURRENT", "2")  # one process per step
    (tmp_path / "home").mkdir()

    def config(ticks: int) -> dict[str, Any]:
        return {
            "ops": {
                "tick_lake_build": {
                    "config": {"synthetic_ticks_per_session": ticks, "chunk_size": 1}
                }
            }
        }

    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions("symbols", ["SYNA"])  # one chunk, killed early
        results: list[dg.ExecuteJobResult] = []
        run = threading.Thread(
            target=lambda: results.append(
                dg.execute_job(
                    tick_job_multiprocess(),
                    instance=instance,
                    tags={"dagster/partition": KEY},
                    run_config=config(3_000_000),  # seconds of work: time to kill it
                    raise_on_error=False,
                )
            )
        )
        run.start()
        killed: str | None = None
        deadline = time.monotonic() + 600
        while killed is None and run.is_alive() and time.monotonic() < deadline:
            for record in instance.get_run_records():
                for entry in instance.all_logs(
                    record.dagster_run.run_id, of_type=DagsterEventType.STEP_START
                ):
                    pid = entry.dagster_event.pid if entry.dagster_event else None
                    if "build_chunk[" in (entry.step_key or "") and pid:
                        os.kill(pid, signal.SIGKILL)
                        killed = entry.step_key
                        break
            time.sleep(0.2)
        run.join(timeout=900)
        (result,) = results
        assert killed is not None and not result.success
        started = {
            e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START
        }
        assert "tick_lake_build.commit_chunks" not in started
        wh = WarehouseResource(duckdb_path=str(data / "warehouse.duckdb")).get_warehouse()
        assert manifest.read(wh) == []
        wh.close()

        instance.add_dynamic_partitions("symbols", ["SYNB"])
        rebuilt = dg.execute_job(
            tick_job_multiprocess(),
            instance=instance,
            tags={"dagster/partition": KEY},
            run_config=config(SMALL),
            raise_on_error=False,
        )
        assert rebuilt.success
    wh = WarehouseResource(duckdb_path=str(data / "warehouse.duckdb")).get_warehouse()
    entries = manifest.read(wh)
    assert sorted(e.symbol for e in entries) == ["SYNA", "SYNB"]
    store = ObjectStore.local(data)
    assert _lake_objects(store) == {k for e in entries for k in e.keys().values()}
