"""Scratch directories: a SIGKILLed owner's directory is swept by the next user, a live one's
never is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from quant_assets.lib.scratch import scratch_dir, scratch_root, sweep_orphans

REPO = Path(__file__).resolve().parents[2]

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from quant_assets.lib.scratch import scratch_dir

    with scratch_dir("hold", Path(sys.argv[1])) as d:
        (d / "spill.arrow").write_bytes(b"x" * 1024)
        print(d, flush=True)
        time.sleep(600)
    """)


def _holder(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(parent)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_scratch_dir_owner_killed_swept_by_next_user(tmp_path: Path) -> None:
    proc, orphan = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (orphan / "spill.arrow").exists()  # SIGKILL skipped the cleanup

    with scratch_dir("next", tmp_path) as mine:
        assert mine.is_dir()
        assert not orphan.exists()
    assert not mine.exists()


def test_scratch_dir_live_owner_kept(tmp_path: Path) -> None:
    proc, held = _holder(tmp_path)
    try:
        assert sweep_orphans(scratch_root(tmp_path)) == []
        with scratch_dir("next", tmp_path):
            assert (held / "spill.arrow").exists()
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while scratch_root(tmp_path).joinpath(held.name).exists() and time.monotonic() < deadline:
        sweep_orphans(scratch_root(tmp_path))
    assert not held.exists()
