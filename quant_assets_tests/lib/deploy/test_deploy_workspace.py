from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from quant_assets.lib.deploy import Color, render_workspace, write_atomic


def test_render_workspace_one_grpc_entry_per_location_sorted(make_server: Any) -> None:
    text = render_workspace(
        [make_server(Color.GREEN, 4001, "quant_assets@feature"), make_server(Color.BLUE, 4000)]
    )
    entries = yaml.safe_load(text)["load_from"]
    assert entries == [
        {"grpc_server": {"host": "127.0.0.1", "port": 4000, "location_name": "quant_assets"}},
        {
            "grpc_server": {
                "host": "127.0.0.1",
                "port": 4001,
                "location_name": "quant_assets@feature",
            }
        },
    ]


def test_render_workspace_duplicate_location_raises(make_server: Any) -> None:
    with pytest.raises(ValueError, match="unique"):
        render_workspace([make_server(Color.BLUE, 4000), make_server(Color.GREEN, 4001)])


def test_write_atomic_readers_never_see_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "workspace.yaml"
    old, new = "a" * 200_000, "b" * 200_000
    write_atomic(path, old)
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(50):
        write_atomic(path, new if i % 2 == 0 else old)
    stop.set()
    reader.join()
    assert seen <= {old, new}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["workspace.yaml"]
