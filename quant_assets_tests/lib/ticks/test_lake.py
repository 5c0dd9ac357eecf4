"""Content versions of the tick lake: accumulated over slices, equal to the whole table's."""

from __future__ import annotations

import numpy as np

from quant_assets.lib.ticks.lake import Digest, hashes_fingerprint


def test_digest_three_slices_equal_hashes_fingerprint_of_all() -> None:
    hashes = np.random.default_rng(0).integers(0, 2**63, 1_001, dtype=np.uint64) * np.uint64(3)
    digest = Digest()
    for part in np.split(hashes, [10, 500]):
        digest.add(part)
    assert digest.version == hashes_fingerprint(hashes)
    assert Digest().version == hashes_fingerprint(np.zeros(0, np.uint64))
