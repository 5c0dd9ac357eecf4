"""CostModelConfig validation errors name the offending field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quant_assets.lib.costs import CostModelConfig


@pytest.mark.parametrize(
    "field", ["commission_per_share", "commission_bps", "commission_min_per_trade", "ac_eta"]
)
def test_config_negative_value_raises_naming_field(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} must be >= 0"):
        CostModelConfig(**{field: -0.001})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.0, -0.1, 1.5])
def test_config_participation_cap_outside_unit_interval_raises(value: float) -> None:
    with pytest.raises(ValidationError, match=r"max_participation must be in \(0, 1\]"):
        CostModelConfig(max_participation=value)


def test_config_unknown_field_raises() -> None:
    with pytest.raises(ValidationError, match="comission_per_share"):
        CostModelConfig(comission_per_share=0.01)  # type: ignore[call-arg]


def test_config_valid_boundaries_accepted_and_fingerprint_changes() -> None:
    a = CostModelConfig(max_participation=1.0, commission_per_share=0.0)
    b = CostModelConfig(max_participation=0.5, commission_per_share=0.0)
    assert a.max_participation == 1.0
    assert (
        a.fingerprint()
        == CostModelConfig(max_participation=1.0, commission_per_share=0.0).fingerprint()
    )
    assert a.fingerprint() != b.fingerprint()
