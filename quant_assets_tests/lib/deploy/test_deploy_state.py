from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from quant_assets.lib.deploy import (
    Color,
    DeployError,
    DeployState,
    load_state,
    pick_port,
    save_state,
)


def test_next_color_new_location_is_blue_then_alternates(make_server: Any) -> None:
    state = DeployState()
    assert state.next_color("quant_assets") is Color.BLUE
    state = state.promote(make_server(Color.BLUE, 4000))
    assert state.next_color("quant_assets") is Color.GREEN


def test_promote_keeps_old_active_as_standby_and_drains_older(make_server: Any) -> None:
    blue, green, blue2 = (
        make_server(Color.BLUE, 4000),
        make_server(Color.GREEN, 4001),
        make_server(Color.BLUE, 4002),
    )
    state = DeployState().promote(blue).promote(green)
    loc = state.locations["quant_assets"]
    assert (loc.active, loc.standby, loc.draining) == (green, blue, ())
    loc = state.promote(blue2).locations["quant_assets"]
    assert (loc.active, loc.standby, loc.draining) == (blue2, green, (blue,))


def test_rollback_swaps_active_and_standby(make_server: Any) -> None:
    blue, green = make_server(Color.BLUE, 4000), make_server(Color.GREEN, 4001)
    state = DeployState().promote(blue).promote(green).rollback("quant_assets")
    loc = state.locations["quant_assets"]
    assert (loc.active, loc.standby) == (blue, green)


def test_rollback_without_standby_raises(make_server: Any) -> None:
    state = DeployState().promote(make_server(Color.BLUE, 4000))
    with pytest.raises(DeployError, match="no standby"):
        state.rollback("quant_assets")
    with pytest.raises(DeployError, match="no deployment"):
        state.rollback("other")


def test_branch_locations_are_independent(make_server: Any) -> None:
    state = DeployState().promote(make_server(Color.BLUE, 4000))
    state = state.promote(make_server(Color.BLUE, 4001, location="quant_assets@feature-x"))
    assert state.locations["quant_assets"].standby is None
    assert state.used_ports() == {4000, 4001}
    assert set(state.remove("quant_assets@feature-x").locations) == {"quant_assets"}


def test_without_draining_drops_only_retired_servers(make_server: Any) -> None:
    a, b, c = (
        make_server(Color.BLUE, 4000),
        make_server(Color.GREEN, 4001),
        make_server(Color.BLUE, 4002),
    )
    state = DeployState().promote(a).promote(b).promote(c).promote(make_server(Color.GREEN, 4003))
    assert [s.port for s in state.locations["quant_assets"].draining] == [4000, 4001]
    kept = state.without_draining("quant_assets", [a]).locations["quant_assets"].draining
    assert [s.port for s in kept] == [4001]


def test_state_round_trips_through_file(tmp_path: Path, make_server: Any) -> None:
    path = tmp_path / "deploy" / "state.json"
    assert load_state(path) == DeployState()
    state = (
        DeployState().promote(make_server(Color.BLUE, 4000)).promote(make_server(Color.GREEN, 4001))
    )
    save_state(path, state)
    assert load_state(path) == state
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_load_state_wrong_version_raises(tmp_path: Path, make_server: Any) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 99, "locations": {}}))
    with pytest.raises(DeployError, match="version"):
        load_state(path)


def test_code_server_naive_time_or_bad_port_rejected(make_server: Any) -> None:
    good = make_server(Color.BLUE, 4000)
    with pytest.raises(ValueError, match="timezone"):
        replace(good, started_at=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time under test
    with pytest.raises(ValueError, match="port"):
        replace(good, port=0)


def test_pick_port_skips_used_and_raises_when_full(make_server: Any) -> None:
    assert pick_port({4000, 4001}, 4000, 4005) == 4002
    with pytest.raises(DeployError, match="no free port"):
        pick_port({4000, 4001}, 4000, 4001)


def test_with_standby_replaces_only_the_standby(make_server: Any) -> None:
    blue, green = make_server(Color.BLUE, 4000), make_server(Color.GREEN, 4001)
    state = DeployState().promote(blue).promote(green)
    restarted = make_server(Color.BLUE, 4005)
    loc = state.with_standby("quant_assets", restarted).locations["quant_assets"]
    assert (loc.active, loc.standby) == (green, restarted)
    with pytest.raises(DeployError, match="no standby"):
        DeployState().promote(blue).with_standby("quant_assets", restarted)
