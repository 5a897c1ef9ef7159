"""Fidelity measures: rank correlation, top-k overlap, the dense reference, the accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from spatten_sim.algo.fidelity import (
    FidelityAccumulator,
    dense_probabilities,
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
