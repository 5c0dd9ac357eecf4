from __future__ import annotations

import pytest

from quant_assets.lib.monitoring.training_progress import TrainingProgress


def test_training_progress_metadata_round_trip_equal() -> None:
    progress = TrainingProgress(1024, 4096, 2.5)
    assert TrainingProgress.from_metadata(progress.metadata()) == progress


def test_training_progress_other_metadata_none() -> None:
    assert TrainingProgress.from_metadata({"pid": 12}) is None


def test_training_progress_eta_at_rate_so_far_seconds_left() -> None:
    assert TrainingProgress(1000, 4000, 2.0).eta_s == pytest.approx(6.0)
    assert TrainingProgress(0, 4000, 0.0).eta_s is None
    assert "1,000 of 4,000 timesteps, ~6 s left" in TrainingProgress(1000, 4000, 2.0).message()
