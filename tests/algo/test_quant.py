"""Fixed-point quantization with an MSB/LSB split, and the fixed-point softmax."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spatten_sim.algo.quant import (
    QuantSpec,
    msb_error_bound,
    quantize,
    quantize_probabilities,
    softmax_fixed,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(1, 40)), elements=finite),
    msb=st.integers(2, 12),
    lsb=st.integers(0, 6),
)
def test_full_value_within_half_step_and_msb_within_one_msb_step(x, msb, lsb):
    fp = quantize(x, QuantSpec(msb, lsb), tensor_axes=(-1,))
    xf = x.astype(np.float64)
    tol = 1e-9 * np.maximum(1.0, np.abs(xf))
    assert np.all(np.abs(fp.code) <= fp.spec.qmax)
    # full value: within half an LSB step
    assert np.all(np.abs(fp.full() - xf) <= fp.scale / 2 + tol)
    # MSB-only: within one MSB step (2**lsb LSB steps)
    err = np.abs(fp.msb_only() - xf)
    assert np.all(err < msb_error_bound(fp) + tol)
    # the MSB code has its low bits cleared and never exceeds the code (truncation)
    mc = fp.msb_code()
    assert np.all(mc % (1 << lsb) == 0)
    assert np.all(mc <= fp.code)
    assert np.all(fp.code - mc < (1 << lsb))


def test_scale_is_per_tensor_and_max_maps_to_qmax():
    x = np.array([[1.0, -4.0, 2.0], [0.5, 0.25, -0.125]])
    fp = quantize(x, QuantSpec(6, 2), tensor_axes=(-1,))
    assert fp.scale.shape == (2, 1)
    assert np.allclose(fp.scale[:, 0], [4.0 / 127, 0.5 / 127])
    assert fp.code[0, 1] == -127 and fp.code[1, 0] == 127


def test_zero_tensor_quantizes_to_zero():
    fp = quantize(np.zeros((2, 4)), QuantSpec(4, 4), tensor_axes=(-1,))
    assert np.all(fp.code == 0) and np.all(fp.full() == 0)


def test_more_lsb_bits_reduce_error():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 256))
    errs = [np.abs(quantize(x, QuantSpec(6, lsb), (-1,)).full() - x).max() for lsb in (0, 2, 4)]
    assert errs[0] > errs[1] > errs[2]
    fp = quantize(x, QuantSpec(6, 4), (-1,))
    assert np.abs(fp.msb_only() - x).max() > np.abs(fp.full() - x).max()


@pytest.mark.parametrize("word_bits", [8, 12, 32])
def test_softmax_fixed_matches_float_softmax_and_grid(word_bits):
    rng = np.random.default_rng(1)
    codes = rng.integers(-2000, 2000, size=(5, 33)).astype(np.float64)
    factor = np.full(5, 1e-3)
    lengths = np.array([33, 1, 10, 33, 20])
    p, rowmax = softmax_fixed(codes, factor, None, lengths, word_bits)
    levels = (1 << word_bits) - 1
    for r in range(5):
        n = lengths[r]
        s = codes[r, :n] * 1e-3
        ref = np.exp(s - s.max())
        ref /= ref.sum()
        assert np.allclose(p[r, :n], ref, atol=1.0 / levels + 1e-6)
        assert np.all(p[r, n:] == 0)
        assert rowmax[r] == p[r].max()
    # on the word grid
    assert np.allclose(np.rint(p.astype(np.float64) * levels), p.astype(np.float64) * levels)


def test_softmax_fixed_bias_shifts_probability():
    codes = np.zeros((1, 4))
    bias = np.array([[0.0, 0.0, 5.0, 0.0]], dtype=np.float32)
    p, _ = softmax_fixed(codes, np.ones(1), bias, np.array([4]), 12)
    assert p[0].argmax() == 2 and p[0, 2] > 0.9


def test_quantize_probabilities_grid():
    p = np.array([0.0, 1.0, 0.5, 1 / 3])
    q = quantize_probabilities(p, 4)
    assert np.allclose(q * 15, np.rint(q * 15))
    assert q[0] == 0 and q[1] == 1
