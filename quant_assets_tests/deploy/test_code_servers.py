from __future__ import annotations

from pathlib import Path

import pytest

from quant_assets.deploy.servers import Target, checkout, start_code_server
from quant_assets.lib.deploy import Color, DeployError


def test_start_code_server_broken_definitions_raises_with_root_cause(tmp_path: Path) -> None:
    (tmp_path / "brokendefs.py").write_text('raise RuntimeError("broken build 42")\n')
    target = Target("broken", "working-tree", "0" * 40, tmp_path, "brokendefs", "defs")
    with pytest.raises(DeployError, match="RuntimeError: broken build 42"):
        start_code_server(target, Color.BLUE, "127.0.0.1", 4398, tmp_path / "logs", timeout_s=120)


def test_checkout_working_tree_reports_dirty_commit(tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
        )
    (repo / "f.txt").write_text("a")
    subprocess.run(["git", "-C", str(repo), "add", "f.txt"], check=True)
    ref, commit, wd = checkout(repo, None, tmp_path / "checkouts")
    assert (ref, wd) == ("working-tree", repo.resolve())
    assert commit.endswith("-dirty") and len(commit) == 46
