"""Accuracy measures: perplexity with its confidence interval, embedding cosine, a linear probe.

* Perplexity of scored tokens (teacher forcing): ``exp(mean NLL)`` over the tokens, in nats. Its
  95 % interval is the normal interval of the mean NLL (``1.96 * sd / sqrt(n)``), exponentiated.
  The pruned-vs-dense ratio ``exp(mean(NLL_pruned - NLL_dense))`` gets the interval of the paired
  per-token difference, which is much tighter than the two perplexities' own intervals, because
  both models score the same tokens.
* Embedding agreement: cosine similarity of pruned and dense sentence embeddings, per sentence.
* Linear probe: L2-regularised logistic regression (Newton's method, deterministic), trained on
  dense embeddings of labelled sentences, evaluated on held-out sentences' dense and pruned
  embeddings: the accuracy drop is what the pruning costs a classifier built on the dense model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "cosine_rows", "mean_interval", "perplexity", "perplexity_ratio", "probe"]

#: two-sided 95 % normal quantile
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95 % interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci95_low": self.low, "ci95_high": self.high}


def mean_interval(x: np.ndarray) -> Interval:
    """Mean of ``x`` with the normal 95 % interval (zero width for fewer than 2 values)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    m = float(x.mean())
    half = Z95 * float(x.std(ddof=1)) / math.sqrt(x.size) if x.size > 1 else 0.0
    return Interval(m, m - half, m + half)


def perplexity(nll: np.ndarray) -> Interval:
    """Perplexity of per-token negative log-likelihoods (nats), with its 95 % interval."""
    m = mean_interval(nll)
    return Interval(math.exp(m.value), math.exp(m.low), math.exp(m.high))


def perplexity_ratio(nll: np.ndarray, nll_ref: np.ndarray) -> Interval:
    """``perplexity(nll) / perplexity(nll_ref)`` on the same tokens, with the paired interval."""
    a, b = np.asarray(nll, np.float64), np.asarray(nll_ref, np.float64)
    if a.shape != b.shape:
        raise ValueError("the two runs scored different tokens")
    return perplexity(a - b)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of corresponding rows of ``a`` and ``b``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


@dataclass(frozen=True)
class ProbeResult:
    train: int
    test: int
    dense_accuracy: float
    pruned_accuracy: float
    agreement: float  #: fraction of test sentences where the two predictions agree


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 50) -> np.ndarray:
    """Weights (bias last) of L2-regularised logistic regression by Newton's method."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = xb @ w
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(xb.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return w


def probe(
    dense: np.ndarray, pruned: np.ndarray, labels: np.ndarray, train: int, l2: float = 1.0
) -> ProbeResult:
    """Train on the first ``train`` dense embeddings, test on the rest (dense and pruned)."""
    y = (np.asarray(labels) > 0).astype(np.float64)
    n = y.size
    if not 0 < train < n:
        raise ValueError(f"train size {train} must be between 1 and {n - 1}")
    mu = dense[:train].mean(axis=0)
    sd = dense[:train].std(axis=0) + 1e-12
    w = _fit_logistic((dense[:train] - mu) / sd, y[:train], l2)

    def predict(e: np.ndarray) -> np.ndarray:
        xb = np.hstack([(e - mu) / sd, np.ones((e.shape[0], 1))])
        return (xb @ w > 0).astype(np.float64)

    pd, pp = predict(dense[train:]), predict(pruned[train:])
    yt = y[train:]
    return ProbeResult(
        train=train,
        test=n - train,
        dense_accuracy=float((pd == yt).mean()),
        pruned_accuracy=float((pp == yt).mean()),
        agreement=float((pd == pp).mean()),
    )
