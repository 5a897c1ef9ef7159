"""Tests of the top-k engine: kept set vs a stable sort, cycle model, official latency model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import spatten_sim
from spatten_sim.algo.topk import (
    FILTER_EXTRA_CYCLES,
    engine_latency_stats,
    official_latency_stats,
    official_topk_latency,
    topk,
    topk_detail,
    topk_rows,
    topk_rows_detail,
)


def reference_topk(values: np.ndarray, k: int) -> np.ndarray:
    """Sort-based top-k: the k largest, ties by index, returned in index order."""
    return np.sort(np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[:k])


# ------------------------------------------------------------------------------ kept set


@settings(max_examples=300, deadline=None)
@given(
    values=hnp.arrays(
        np.float32, st.integers(0, 80), elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])
    ),
    k=st.integers(0, 90),
    p=st.sampled_from([1, 3, 16]),
    seed=st.integers(0, 2**64 - 1),
)
def test_kept_set_equals_stable_sort_many_ties(values, k, p, seed):
    idx, cycles = topk(values, k, comparators=p, seed=seed)
    np.testing.assert_array_equal(idx, reference_topk(values, k))
    assert idx.dtype == np.int64
    assert cycles >= 0


@settings(max_examples=200, deadline=None)
@given(
    values=hnp.arrays(
        np.float32,
        st.integers(1, 200),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=32),
    ),
    data=st.data(),
)
def test_kept_set_equals_stable_sort_floats(values, data):
    k = data.draw(st.integers(0, values.size))
    idx, _ = topk(values, k)
    np.testing.assert_array_equal(idx, reference_topk(values, k))


@settings(max_examples=100, deadline=None)
@given(
    values=hnp.arrays(np.int64, st.integers(1, 100), elements=st.integers(-(2**62), 2**62)),
    data=st.data(),
)
def test_int64_compared_exactly(values, data):
    k = data.draw(st.integers(0, values.size))
    idx, _ = topk(values, k)
    expect = np.sort(np.argsort(-values, kind="stable")[:k])
    np.testing.assert_array_equal(idx, expect)


def test_int64_values_beyond_float_precision():
    base = 2**60
    values = np.array([base + 1, base, base + 3, base + 2], dtype=np.int64)
    idx, _ = topk(values, 2)
    np.testing.assert_array_equal(idx, [2, 3])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8, bool])
def test_dtypes(dtype):
    rng = np.random.default_rng(3)
    values = (rng.integers(0, 7, size=50)).astype(dtype)
    idx, _ = topk(values, 13)
    np.testing.assert_array_equal(idx, reference_topk(values.astype(np.float64), 13))


def test_rows_equal_single_calls_and_respect_lengths():
    rng = np.random.default_rng(7)
    vals = rng.integers(0, 5, size=(40, 64)).astype(np.float32)
    lengths = rng.integers(0, 65, size=40)
    ks = rng.integers(0, 70, size=40)
    res = topk_rows_detail(vals, lengths, ks, comparators=8, seed=11)
    for r in range(40):
        idx, cyc = topk(vals[r, : lengths[r]], int(ks[r]), comparators=8, seed=11)
        np.testing.assert_array_equal(np.flatnonzero(res.keep_mask[r]), idx)
        assert res.cycles[r] == cyc
        assert not res.keep_mask[r, lengths[r] :].any()
    np.testing.assert_array_equal(
        res.cycles, res.fill_cycles + res.select_cycles + res.filter_cycles
    )
    mask, cycles = topk_rows(vals, lengths, ks, comparators=8, seed=11)
    np.testing.assert_array_equal(mask, res.keep_mask)
    np.testing.assert_array_equal(cycles, res.cycles)


def test_padding_beyond_length_is_ignored_even_if_nan():
    vals = np.array([[3.0, 1.0, 2.0, np.nan, np.nan]], dtype=np.float32)
    mask, _ = topk_rows(vals, np.array([3]), 2)
    np.testing.assert_array_equal(mask[0], [True, False, True, False, False])


# ------------------------------------------------------------------------------ edge cases


def test_edge_cases_cycles():
    p = 16
    v = np.arange(100, dtype=np.float32)
    idx, cyc = topk(v, 0)
    assert idx.size == 0 and idx.dtype == np.int64 and cyc == 0
    idx, cyc = topk(np.empty(0, dtype=np.float32), 5)
    assert idx.size == 0 and cyc == 0
    idx, res = topk_detail(v, 100)
    np.testing.assert_array_equal(idx, np.arange(100))
    beats = math.ceil(100 / p)
    assert res.rounds[0] == 0 and res.select_cycles[0] == 0
    assert res.cycles[0] == beats + beats + 3 + FILTER_EXTRA_CYCLES
    idx, _ = topk(v, 1000)
    assert idx.size == 100


def test_nan_refused():
    with pytest.raises(ValueError, match="NaN"):
        topk(np.array([1.0, np.nan, 2.0]), 1)
    with pytest.raises(ValueError, match="NaN"):
        topk_rows(np.array([[1.0, 2.0], [np.nan, 0.0]], dtype=np.float32), None, 1)


def test_bad_arguments():
    with pytest.raises(ValueError):
        topk(np.ones(4), -1)
    with pytest.raises(ValueError):
        topk(np.ones(4), 2, comparators=0)
    with pytest.raises(ValueError):
        topk(np.ones((2, 2)), 1)
    with pytest.raises(ValueError):
        topk_rows(np.ones((2, 4), dtype=np.float32), np.array([1, 5]), 1)
    with pytest.raises(TypeError):
        topk(np.ones(4, dtype=np.complex64), 1)


def test_public_api_and_determinism():
    rng = np.random.default_rng(0)
    v = rng.random(1000).astype(np.float32)
    a = spatten_sim.topk(v, 100, comparators=16, seed=5)
    b = spatten_sim.topk(v.copy(), 100, comparators=16, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    # Another seed picks other pivots: same kept set, (almost always) another cycle count.
    cycles = {topk(v, 100, seed=s)[1] for s in range(8)}
    assert len(cycles) > 1
    assert all(np.array_equal(topk(v, 100, seed=s)[0], a[0]) for s in range(8))


# ------------------------------------------------------------------------------ cycle model


def test_cycle_model_by_hand():
    """All-equal input: the first pivot isolates the target, one round."""
    n, p, ov = 100, 16, 3
    _, res = topk_detail(np.full(n, 2.0, dtype=np.float32), 10, comparators=p)
    beats = math.ceil(n / p)
    assert res.rounds[0] == 1
    assert res.select_cycles[0] == beats + ov
    assert res.fill_cycles[0] == beats
    assert res.filter_cycles[0] == beats + ov + FILTER_EXTRA_CYCLES
    assert res.comparisons[0] == 2 * n + 2 * n
    assert res.comparator_cycles[0] == 2 * p * beats * 2


def test_select_cycles_sum_of_rounds_bounds():
    """Each round costs ceil(m/P)+overhead with m <= n shrinking: checks both bounds."""
    rng = np.random.default_rng(1)
    vals = rng.random((200, 512), dtype=np.float32)
    res = topk_rows_detail(vals, None, 100, comparators=16, round_overhead_cycles=5)
    assert (res.select_cycles >= res.rounds * (1 + 5)).all()
    assert (res.select_cycles <= res.rounds * (512 // 16 + 5)).all()
    assert (res.select_cycles >= 512 // 16 + 5).all()  # the first round reads all n
    # With more comparators, never more cycles per round.
    res32 = topk_rows_detail(vals, None, 100, comparators=32, round_overhead_cycles=5)
    np.testing.assert_array_equal(res32.rounds, res.rounds)  # same pivots, same recursion
    assert (res32.select_cycles <= res.select_cycles).all()


# ------------------------------------------------------------------------------ official model


def test_official_model_by_hand():
    # k >= n: their loop walks right until the sequence is empty.
    cycles, rounds = official_topk_latency(16, 16, comparators=16, rng=0)
    assert rounds >= 1 and cycles >= 1 + 3
    # one element: one round, ceil(1/16)+3 cycles
    assert official_topk_latency(1, 0, rng=0) == (4, 1)
    # deterministic
    assert official_topk_latency(1024, 512, rng=3) == official_topk_latency(1024, 512, rng=3)


@pytest.mark.parametrize(("n", "k"), [(1024, 512), (1024, 32), (4096, 16), (128, 64)])
def test_matches_official_latency_model(n, k):
    trials = 400
    ours = engine_latency_stats(n, k, trials=trials, seed=1)
    theirs = official_latency_stats(n, k, trials=trials, seed=1)
    assert ours.mean_cycles == pytest.approx(theirs.mean_cycles, rel=0.05)
    assert ours.mean_rounds == pytest.approx(theirs.mean_rounds, rel=0.05)


def test_parallel_kernel_identical_to_serial():
    rng = np.random.default_rng(9)
    vals = rng.integers(0, 50, size=(300, 96)).astype(np.float32)
    lengths = rng.integers(0, 97, size=300)
    ks = rng.integers(0, 100, size=300)
    a = topk_rows_detail(vals, lengths, ks, seed=4)
    b = topk_rows_detail(vals, lengths, ks, seed=4, parallel=True)
    np.testing.assert_array_equal(a.keep_mask, b.keep_mask)
    np.testing.assert_array_equal(a.cycles, b.cycles)
    np.testing.assert_array_equal(a.comparisons, b.comparisons)


def test_infinities_and_signed_zero():
    v = np.array([0.0, -0.0, np.inf, -np.inf, 1.0, np.inf, -0.0], dtype=np.float32)
    for k in range(v.size + 1):
        np.testing.assert_array_equal(topk(v, k)[0], reference_topk(v, k))


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 3000),
    k=st.integers(0, 3100),
    p=st.sampled_from([1, 4, 16, 32]),
    seed=st.integers(0, 2**32 - 1),
    draws=st.integers(1, 4),
)
def test_official_latency_numba_equals_numpy(n, k, p, seed, draws) -> None:
    """The Numba official latency model draws the same numbers from the same Generator and
    leaves it in the same state as the numpy reference."""
    from spatten_sim.algo.topk import official_topk_latency_reference

    g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(draws):
        assert official_topk_latency(n, k, p, 3, g1) == official_topk_latency_reference(
            n, k, p, 3, g2
        )
    assert g1.integers(2**62) == g2.integers(2**62)


def test_official_latencies_batch_is_the_single_calls_in_order():
    from spatten_sim.algo.topk import official_topk_latencies

    rs = np.random.default_rng(5)
    ns = rs.integers(0, 1100, 200)
    ks = np.minimum(rs.integers(0, 1100, 200), ns)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    cycles, rounds = official_topk_latencies(ns, ks, 16, 3, g1)
    one = [official_topk_latency(int(n), int(k), 16, 3, g2) for n, k in zip(ns, ks, strict=True)]
    assert cycles.tolist() == [c for c, _ in one] and rounds.tolist() == [r for _, r in one]
    assert g1.integers(1 << 40) == g2.integers(1 << 40)  # the generators end in one state
    assert official_topk_latencies(np.zeros(0, int), np.zeros(0, int))[0].size == 0
    with pytest.raises(ValueError, match="1-D of one length"):
        official_topk_latencies(np.ones(2, int), np.ones(3, int))
