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


@settings(max_examples=60, deadline=None)
@given(
    bits=st.integers(1, 14),
    n=st.integers(1, 400),
    shift=st.integers(0, 4),
    seed=st.integers(0, 2**31),
)
def test_causal_prefix_equals_the_whole_product_where_seen(
    bits: int, n: int, shift: int, seed: int
) -> None:
    """Blocks of rows against the keys they see: every seen entry equals the float64 product;
    an unseen one holds 0 or the product (the softmax reads only seen entries). Up to 400
    rows, so that several blocks run."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (3, n, 64)).astype(np.int32)
    b = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (n, 64)).astype(np.int32)
    prefix = np.sort(rng.integers(1, n + 1, n)).astype(np.int32)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64).T) * float(2**shift)
    seen = np.arange(n)[None, :] < prefix[:, None]
    got = exact_int_matmul(a, b, shift, prefix)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.array_equal(got[:, seen], want[:, seen])
    unseen = got[:, ~seen]
    assert np.all((unseen == 0) | (unseen == want[:, ~seen]))
