"""Fixed-width time-of-day parsing and constant-offset localisation equal the general paths."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quant_assets.lib.ticks.adapters._timeofday import (
    TAQ_CLOCK,
    clock_ns_fixed,
    clock_ns_text,
    localize_constant_offset,
)

NS = 1_000_000_000


def _times(n: int, digits: int) -> pa.Array:
    ns = np.random.default_rng(1).integers(0, 86_400 * NS, n).tolist()
    return pa.array(
        [
            f"{v // NS // 3600:02d}:{v // NS // 60 % 60:02d}:{v // NS % 60:02d}."
            + f"{v % NS:09d}"[:digits]
            for v in ns
        ]
    )


def test_clock_ns_fixed_fractions_equal_general_parser() -> None:
    for digits in (1, 3, 6, 9):
        text = _times(2_000, digits)
        fast = clock_ns_fixed(text, "%H:%M:%S.%f")
        assert fast is not None and fast.equals(clock_ns_text(text, "%H:%M:%S.%f"))


def test_clock_ns_fixed_mixed_widths_or_bad_values_left_to_general_parser() -> None:
    assert clock_ns_fixed(pa.array(["09:30:00.5", "09:30:00.25"]), "%H:%M:%S.%f") is None
    assert clock_ns_fixed(pa.array(["09:3a:00.500"]), "%H:%M:%S.%f") is None
    assert clock_ns_fixed(pa.array(["24:00:00.000"]), "%H:%M:%S.%f") is None
    assert clock_ns_fixed(pa.array(["09-30-00.000"]), "%H:%M:%S.%f") is None
    assert clock_ns_fixed(pa.array(["09:30:00", None]), "%H:%M:%S") is None


def test_clock_ns_fixed_taq_digits_to_ns_after_midnight() -> None:
    out = clock_ns_fixed(pa.array(["093000123456789", "160000000000001"]), TAQ_CLOCK)
    assert out is not None
    assert out.to_pylist() == [34_200 * NS + 123_456_789, 57_600 * NS + 1]
    assert clock_ns_fixed(pa.array(["0930001234567"]), TAQ_CLOCK) is None  # lost zeros: slow path


def _naive(*stamps: str) -> np.ndarray:
    return np.asarray(pc.cast(pc.strptime(pa.array(stamps), "%Y-%m-%d %H:%M:%S", "ns"), pa.int64()))


def test_localize_constant_offset_equals_per_value_localisation() -> None:
    naive = _naive("2024-01-02 09:30:00", "2024-01-03 16:00:00", "2024-01-02 23:59:59")
    fast = localize_constant_offset(naive, "America/New_York")
    slow = pc.assume_timezone(pa.array(naive, pa.timestamp("ns")), "America/New_York")
    assert fast is not None and fast.equals(slow.cast(fast.type))


def test_localize_constant_offset_across_dst_change_left_to_per_value() -> None:
    # the US switched to daylight time at 02:00 on 2024-03-10
    assert (
        localize_constant_offset(
            _naive("2024-03-10 00:30:00", "2024-03-10 09:30:00"), "America/New_York"
        )
        is None
    )
    assert (
        localize_constant_offset(
            _naive("2024-03-10 03:00:00", "2024-03-10 09:30:00"), "America/New_York"
        )
        is not None
    )
