"""``exact_int_matmul``: float32 where provably exact, always bit-identical to float64."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spatten_sim.algo.functional import exact_int_matmul


@settings(max_examples=200, deadline=None)
@given(
    bits_a=st.integers(1, 14),
    bits_b=st.integers(1, 14),
    d=st.sampled_from([1, 32, 64, 96]),
    shift=st.integers(0, 8),
    seed=st.integers(0, 2**31),
)
def test_equals_float64(bits_a: int, bits_b: int, d: int, shift: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2 ** (bits_a - 1)), 2 ** (bits_a - 1), (2, 17, d)).astype(np.int32)
    b = rng.integers(-(2 ** (bits_b - 1)), 2 ** (bits_b - 1), (23, d)).astype(np.int32)
    # the extremes, where partial sums are largest
    a[0, 0] = -(2 ** (bits_a - 1))
    b[0] = -(2 ** (bits_b - 1))
    want = np.matmul(a.astype(np.float64), b.astype(np.float64).T) * float(2**shift)
    got = exact_int_matmul(a, b, shift)
    assert got.dtype == np.float64
    assert np.array_equal(got, want)
