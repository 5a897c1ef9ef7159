"""DRAM address layout: packed rows, whole transactions, regions that never overlap."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spatten_sim.hw.layout import AddressLayout


def _reference(rows: np.ndarray, head_dim: int, bits: int, tx: int = 32) -> np.ndarray:
    out = set()
    for r in rows:
        lo = r * head_dim * bits // 8
        hi = (r + 1) * head_dim * bits // 8 + (1 if ((r + 1) * head_dim * bits) % 8 else 0)
        for b in range(lo // tx, (hi - 1) // tx + 1):
            out.add(b)
    return np.array(sorted(out), dtype=np.int64) * tx


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.integers(0, 511), min_size=1, max_size=60, unique=True),
    bits=st.sampled_from([4, 6, 8, 10, 12, 16, 32]),
    head_dim=st.sampled_from([32, 64, 256]),
)
def test_transactions_cover_exactly_the_rows(rows, bits, head_dim):
    lay = AddressLayout(2, 3, 3, 512, head_dim, max_bits=32)
    got = lay.transactions("k_msb", 1, 2, np.array(rows, dtype=np.int32), bits)
    base = lay.transactions("k_msb", 1, 2, np.array([0]), 32)[0]
    assert np.array_equal(got - base, _reference(np.array(sorted(rows)), head_dim, bits))


def test_packed_rows_share_transactions_and_regions_do_not_overlap():
    lay = AddressLayout(2, 2, 1, 1024, 64, max_bits=12)
    # 6-bit D=64 rows are 48 B: 1024 contiguous rows fill 1536 transactions exactly
    assert lay.transactions("k_msb", 0, 0, np.arange(1024), 6).size == 1536
    # three scattered 8-bit rows cost two transactions each
    assert lay.transactions("v", 1, 0, np.array([0, 5, 9]), 8).size == 6
    seen: set[int] = set()
    for stream in ("q", "k_msb", "k_lsb", "v"):
        for layer in range(2):
            heads = 2 if stream == "q" else 1
            for h in range(heads):
                a = set(lay.transactions(stream, layer, h, np.arange(1024), 12).tolist())
                assert not (a & seen)
                seen |= a
    assert max(seen) < lay.total_bytes
