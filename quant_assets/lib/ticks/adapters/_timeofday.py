"""Times of day and local wall-clock times, converted with integer arithmetic.

Vendor day files (NYSE TAQ, LOBSTER) stamp each row with a time after local midnight; parsing it
dominated landing such a file. Fixed-width text (every value the same length, the usual case) is
read as a byte matrix and converted digit by digit in numpy, ~20x Arrow's regex + slice + cast;
any value that does not fit the pattern sends the column to the general parser, which reports
it. Localising wall-clock times is one subtraction when the zone's UTC offset is the same over
the whole span of the values (no DST change inside), checked at hourly points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

TAQ_CLOCK = "HHMMSSXXXXXXXXX"
"""NYSE Daily TAQ time: hours, minutes, seconds and nanoseconds after the second, 15 digits
(a leading zero lost to a numeric column is restored); a time of day, so relative_to = date."""

NS_PER_S = 1_000_000_000
_HOUR_NS = 3600 * NS_PER_S
_MAX_SPAN_NS = 8 * 24 * _HOUR_NS  # beyond this the hourly check costs more than it saves
_ZERO = ord("0")
Digits = npt.NDArray[np.int64]
SmallDigits = npt.NDArray[np.uint8]


def fixed_width_bytes(text: pa.Array) -> npt.NDArray[np.uint8] | None:
    """The values of a null-free string array as an (n, width) byte matrix (zero copy), or
    None when the values differ in length (or there are nulls, or none)."""
    if not pa.types.is_string(text.type) or text.null_count or len(text) == 0:
        return None
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != width * n:
        return None
    if not np.all(np.diff(offsets) == width):
        return None
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(n, width)


def _number(digits: SmallDigits, start: int, stop: int) -> Digits:
    out = digits[:, start].astype(np.int64)
    for j in range(start + 1, stop):
        out = out * 10 + digits[:, j]
    return out


def _hms_ns(hours: Digits, minutes: Digits, seconds: Digits) -> Digits | None:
    if hours.max() > 23 or minutes.max() > 59 or seconds.max() > 59:
        return None
    return ((hours * 60 + minutes) * 60 + seconds) * NS_PER_S


def _fraction_ns(digits: SmallDigits, start: int) -> Digits:
    """Nanoseconds of the fraction digits from column ``start`` (up to 9, right-padded)."""
    width = digits.shape[1] - start
    if width == 0:
        return np.zeros(digits.shape[0], np.int64)
    return _number(digits, start, start + width) * 10 ** (9 - width)


def clock_ns_fixed(text: pa.Array, fmt: str) -> pa.Array | None:
    """Nanoseconds after midnight of fixed-width ``HH:MM:SS[.f]`` or :data:`TAQ_CLOCK` text;
    None when the values are not all of one valid shape (the caller's general parser then
    reports the bad value)."""
    raw = fixed_width_bytes(text)
    if raw is None:
        return None
    width = raw.shape[1]
    digits = raw - np.uint8(_ZERO)  # one byte per character; a non-digit wraps above 9
    if fmt == TAQ_CLOCK:
        if width != 15 or digits.max() > 9:
            return None
        clock = _hms_ns(_number(digits, 0, 2), _number(digits, 2, 4), _number(digits, 4, 6))
        return None if clock is None else pa.array(clock + _number(digits, 6, 15))
    if fmt == "%H:%M:%S":
        positions, fraction = [0, 1, 3, 4, 6, 7], False
        if width != 8:
            return None
    elif fmt == "%H:%M:%S.%f":
        if width == 8:
            positions, fraction = [0, 1, 3, 4, 6, 7], False
        elif 10 <= width <= 18:
            positions, fraction = [0, 1, 3, 4, 6, 7, *range(9, width)], True
        else:
            return None
    else:
        return None
    separators = raw[:, [2, 5, 8]] if fraction else raw[:, [2, 5]]
    expected = np.array([ord(":"), ord(":"), ord(".")][: separators.shape[1]], np.uint8)
    if (separators != expected).any() or digits[:, positions].max() > 9:
        return None
    clock = _hms_ns(_number(digits, 0, 2), _number(digits, 3, 5), _number(digits, 6, 8))
    if clock is None:
        return None
    if fraction:
        clock = clock + _fraction_ns(digits, 9)
    return pa.array(clock)


def localize_constant_offset(naive_ns: npt.NDArray[np.int64], timezone: str) -> pa.Array | None:
    """UTC ns of naive local times when ``timezone`` keeps one UTC offset over their whole span
    (checked every hour and at both ends: no zone changes its offset twice within an hour),
    else None (the per-value path then also reports nonexistent/ambiguous times)."""
    if naive_ns.size == 0:
        return None
    lo, hi = int(naive_ns.min()), int(naive_ns.max())
    if hi - lo > _MAX_SPAN_NS:
        return None
    points = np.append(np.arange(lo, hi, _HOUR_NS, dtype=np.int64), hi)
    local = pa.array(points, pa.timestamp("ns"))
    utc = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="earliest")
    offsets = points - np.asarray(pc.cast(utc, pa.int64()).to_numpy(), dtype=np.int64)
    if not np.all(offsets == offsets[0]):
        return None
    latest = pc.assume_timezone(local, timezone, ambiguous="latest", nonexistent="latest")
    if not pc.all(pc.equal(pc.cast(latest, pa.int64()), pc.cast(utc, pa.int64()))).as_py():
        return None  # an ambiguous or nonexistent point: per value
    return pa.array(naive_ns - offsets[0], pa.timestamp("ns", tz="UTC"))


def taq_clock_ns(a: pa.Array) -> pa.Array:
    """Nanoseconds after midnight of :data:`TAQ_CLOCK` values (text or numbers, leading zeros
    restored); raises ``ArrowInvalid`` on a value that is not one."""
    if pa.types.is_integer(a.type):
        a = pc.cast(a, pa.string())
    fast = clock_ns_fixed(a, TAQ_CLOCK)
    if fast is not None:
        return fast
    text = pc.utf8_trim_whitespace(a if pa.types.is_string(a.type) else pc.cast(a, pa.string()))
    text = pc.utf8_lpad(text, width=15, padding="0")
    if pc.any(pc.invert(pc.match_substring_regex(text, r"^\d{15}$"))).as_py():
        raise pa.ArrowInvalid(f"not {TAQ_CLOCK} digits")

    def part(start: int, stop: int) -> pa.Array:
        return pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int64())

    hours, minutes, seconds = part(0, 2), part(2, 4), part(4, 6)
    too_big = pc.or_(
        pc.greater(hours, 23), pc.or_(pc.greater(minutes, 59), pc.greater(seconds, 59))
    )
    if pc.any(too_big).as_py():
        raise pa.ArrowInvalid(f"{TAQ_CLOCK} value out of range")
    total = pc.add(pc.multiply(pc.add(pc.multiply(hours, 60), minutes), 60), seconds)
    return pc.add(pc.multiply(total, 1_000_000_000), part(6, 15))


_CLOCK_FORMATS = {
    "%H:%M:%S.%f": r"^\d\d:\d\d:\d\d(\.\d{1,9})?$",
    "%H:%M:%S": r"^\d\d:\d\d:\d\d$",
}


def clock_ns_text(text: pa.Array, fmt: str) -> pa.Array | None:
    """Nanoseconds after midnight of ``HH:MM:SS[.f]`` text of varying width by slicing (~10x
    Arrow's strptime with the fraction split off); None when a value does not fit, so the
    general parser reports it. :func:`clock_ns_fixed` is the faster path for one width."""
    pattern = _CLOCK_FORMATS.get(fmt)
    if pattern is None or not pc.all(pc.match_substring_regex(text, pattern)).as_py():
        return None

    def part(start: int, stop: int) -> pa.Array:
        return pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int64())

    hours, minutes, seconds = part(0, 2), part(3, 5), part(6, 8)
    if (pc.max(hours).as_py() or 0) > 23 or (pc.max(minutes).as_py() or 0) > 59:
        return None
    if (pc.max(seconds).as_py() or 0) > 59:
        return None
    total = pc.add(pc.multiply(pc.add(pc.multiply(hours, 60), minutes), 60), seconds)
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(text, 9, 18), width=9, padding="0")
    return pc.add(pc.multiply(total, 1_000_000_000), pc.cast(frac, pa.int64()))
