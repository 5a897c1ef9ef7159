"""The accuracy measures on inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatten_sim.accuracy import metrics


def test_perplexity_and_interval() -> None:
    nll = np.array([1.0, 2.0, 3.0, 2.0])
    p = metrics.perplexity(nll)
    assert p.value == pytest.approx(math.exp(2.0))
    half = metrics.Z95 * np.std(nll, ddof=1) / 2
    assert p.low == pytest.approx(math.exp(2.0 - half))
    assert p.high == pytest.approx(math.exp(2.0 + half))


def test_ratio_is_paired() -> None:
    """A constant per-token shift gives the exact ratio with a zero-width interval, however
    spread the tokens themselves are."""
    rng = np.random.default_rng(0)
    ref = rng.exponential(3.0, size=500)
    r = metrics.perplexity_ratio(ref + 0.25, ref)
    assert r.value == pytest.approx(math.exp(0.25))
    assert r.high - r.low == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        metrics.perplexity_ratio(ref[:3], ref)


def test_cosine_rows() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [-1.0, -1.0], [1.0, 0.0]])
    assert metrics.cosine_rows(a, b).tolist() == pytest.approx([1.0, -1.0, 0.0])


def test_probe_on_separable_and_on_scrambled_embeddings() -> None:
    rng = np.random.default_rng(1)
    y = np.tile([1, -1], 100)
    dense = rng.normal(size=(200, 8)) + 3.0 * y[:, None] * np.eye(8)[0]
    r = metrics.probe(dense, dense, y, train=120)
    assert r.dense_accuracy == 1.0 and r.pruned_accuracy == 1.0 and r.agreement == 1.0
    scrambled = rng.normal(size=dense.shape)
    r2 = metrics.probe(dense, scrambled, y, train=120)
    assert r2.dense_accuracy == 1.0
    assert r2.pruned_accuracy < 0.8
    with pytest.raises(ValueError):
        metrics.probe(dense, dense, y, train=200)
