"""Fidelity measures: rank correlation, top-k overlap, the dense reference, the accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from spatten_sim.algo.fidelity import (
    FidelityAccumulator,
    dense_probabilities,
    dense_rows,
    spearman,
    topk_overlap,
)
from spatten_sim.trace import synthetic_trace


def test_spearman_known_values():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10 + 3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.array([1.0, 3.0, 2.0, 4.0])) == pytest.approx(0.8)
    # ties share the average rank
    assert spearman(np.array([1.0, 1.0, 2.0]), np.array([5.0, 5.0, 9.0])) == pytest.approx(1.0)
    assert spearman(np.zeros(5), np.zeros(5)) == 1.0
    assert spearman(np.zeros(5), np.append(a, 5.0)) == 0.0


def test_topk_overlap():
    scores = np.array([0.0, 5.0, 4.0, 3.0, 1.0])
    cand = np.arange(5)
    assert topk_overlap(np.array([1, 2]), scores, cand) == 1.0
    assert topk_overlap(np.array([1, 4]), scores, cand) == 0.5
    assert topk_overlap(np.array([0, 4]), scores, cand) == 0.0
    assert topk_overlap(cand, scores, cand) == 1.0  # nothing pruned


@pytest.mark.parametrize("causal", [False, True])
def test_dense_probabilities_match_trace(causal):
    tr = synthetic_trace(n_layers=2, n_heads=4, n_kv_heads=2, tokens=20, seed=2, causal=causal)
    ref = tr.probabilities(1)
    qids = np.array([0, 5, 19], dtype=np.int32)
    p = dense_probabilities(tr, 1, qids, 20)
    np.testing.assert_allclose(p, ref[:, qids], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_dense_rows_match_the_dense_probabilities(causal):
    """The blocked dense reference (rows in blocks, each against the keys its last row sees)
    against :func:`dense_probabilities` row by row: summarization rows see the prompt (their
    causal prefix), generated rows see every token up to themselves; a prompt longer than one
    block, and more generated rows than one block."""
    P, G = 300, 140 if causal else 0
    tr = synthetic_trace(
        n_layers=1,
        n_heads=4,
        n_kv_heads=2,
        head_dim=16,
        tokens=P + G,
        generated_tokens=G,
        seed=3,
        causal=causal,
    )
    v = np.repeat(tr.v[0].astype(np.float32), tr.group_size, axis=0)
    p = dense_probabilities(tr, 0, np.arange(P, dtype=np.int32), P)
    summ = dense_rows(tr, 0, 0, P, summed=True)
    np.testing.assert_allclose(summ.out, p @ v[:, :P], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(summ.importance, p.sum(axis=(0, 1)), rtol=1e-5)
    if not causal:
        return
    gen = dense_rows(tr, 0, P, P + G, summed=False)
    assert gen.start == P and gen.importance.shape == (G, P + G)
    for i in (0, 1, 127, 128, G - 1):
        t = P + i
        pt = dense_probabilities(tr, 0, np.array([t], dtype=np.int32), t + 1)
        np.testing.assert_allclose(gen.out[:, i : i + 1], pt @ v[:, : t + 1], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(gen.importance[i, : t + 1], pt.sum(axis=(0, 1)), rtol=1e-5)
        assert not gen.importance[i, t + 1 :].any()
    with pytest.raises(ValueError, match="all prompt or all generated"):
        dense_rows(tr, 0, P - 1, P + 1, summed=False)


def test_accumulator_relative_error_and_summary():
    acc = FidelityAccumulator()
    ref = np.ones((2, 3, 4))
    acc.add_output("summarization", 0, ref, ref)
    acc.add_output("summarization", 1, ref * 0.5, ref)
    acc.add_output("generation", 0, np.zeros_like(ref), ref)
    acc.add_importance("summarization", 1, 0.5, 0.25)
    res = acc.result()
    per = {(r["stage"], r["layer"]): r for r in res["per_layer"]}
    assert per[("summarization", 0)]["output_rel_error"] == 0.0
    assert per[("summarization", 1)]["output_rel_error"] == pytest.approx(0.5)
    assert per[("generation", 0)]["output_rel_error"] == pytest.approx(1.0)
    assert per[("summarization", 1)]["importance_topk_overlap"] == 0.25
    assert res["output_rel_error_max"] == pytest.approx(1.0)
    assert res["output_rel_error_mean"] == pytest.approx(0.5)
    assert [r["stage"] for r in res["per_layer"]] == ["summarization"] * 2 + ["generation"]


def test_dense_cache_gives_the_fresh_blocks():
    from spatten_sim.algo.fidelity import DenseCache

    tr = synthetic_trace(
        n_layers=2, n_heads=4, n_kv_heads=2, tokens=24, generated_tokens=4, seed=5, causal=True
    )
    cache = DenseCache(tr)
    for args in ((0, 0, 20, True), (1, 20, 24, False), (0, 0, 20, True)):
        got, fresh = cache.rows(*args), dense_rows(tr, *args)
        assert got.start == fresh.start
        np.testing.assert_array_equal(got.out, fresh.out)
        np.testing.assert_array_equal(got.importance, fresh.importance)
        assert not got.out.flags.writeable  # shared between runs: nobody may change it
    assert (cache.hits, cache.misses) == (1, 2)
    assert cache.rows(0, 0, 20, True) is cache.rows(0, 0, 20, True)


def test_dense_cache_keeps_no_more_than_its_budget():
    from spatten_sim.algo.fidelity import DenseCache

    tr = synthetic_trace(n_layers=3, n_heads=4, tokens=32, seed=1, causal=True)
    one = dense_rows(tr, 0, 0, 32, True)
    size = one.out.nbytes + one.importance.nbytes
    cache = DenseCache(tr, max_bytes=2 * size)
    for layer in range(3):
        cache.rows(layer, 0, 32, True)
    assert cache.bytes == 2 * size  # the third block was computed and not kept
    b = cache.rows(2, 0, 32, True)  # computed again: the same figures
    np.testing.assert_array_equal(b.out, dense_rows(tr, 2, 0, 32, True).out)
    assert (cache.hits, cache.misses) == (0, 4)
