"""Fidelity of the functional phase against the dense float computation on the same trace.

Reference: dense float32 attention on the trace's own Q, K, V: ``softmax(scale * Q K^T + bias)``
with the causal mask where the trace is causal, no pruning and no quantization, every head.

Measures, per layer (and per stage: summarization, generation):

* ``output_rel_error``: Frobenius relative error ``||E_hw - E_ref|| / ||E_ref||`` of the attention
  outputs of the queries the hardware computes (the surviving queries in summarization, the
  generated token's query in generation), over every query head; a pruned head contributes an
  output of zero (that is what pruning it does). Generation layers accumulate the squared norms
  over all iterations before dividing.
* ``importance_spearman``: Spearman rank correlation between the hardware's cumulative token
  importance (sum of its fixed-point probabilities over surviving heads and queries) and the dense
  cumulative importance (sum of the dense probabilities over all heads and queries), over the
  tokens of the context, after the layer.
* ``importance_topk_overlap``: the fraction of the tokens kept at this layer that are also among
  the same number of top tokens by dense cumulative importance before the layer (1.0 = the
  pruning kept exactly what dense importance would keep; ties broken by position).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from spatten_sim.algo.quant import PARALLEL_MIN_ELEMENTS
from spatten_sim.hw import numba_start
from spatten_sim.trace import Trace

numba_start.install()  # the cache stamp (see numba_start), before the first kernel

__all__ = [
    "DenseCache",
    "DenseRows",
    "FidelityAccumulator",
    "dense_probabilities",
    "dense_rows",
    "spearman",
    "topk_overlap",
]


@njit(cache=True)
def _softmax_row_inplace(s, lengths, r):
    n = s.shape[1]
    ln = lengths[r]
    m = np.float32(-np.inf)
    for j in range(ln):
        if s[r, j] > m:
            m = s[r, j]
    acc = np.float32(0.0)
    for j in range(ln):
        e = np.exp(s[r, j] - m)
        s[r, j] = e
        acc += e
    for j in range(ln):
        s[r, j] = s[r, j] / acc
    for j in range(ln, n):
        s[r, j] = 0.0


@njit(cache=True)
def _softmax_rows_inplace(s, lengths):
    for r in range(s.shape[0]):
        _softmax_row_inplace(s, lengths, r)


@njit(cache=True, parallel=True)
def _softmax_rows_inplace_parallel(s, lengths):
    for r in prange(s.shape[0]):
        _softmax_row_inplace(s, lengths, r)


def _softmax_inplace(s: np.ndarray, lengths: np.ndarray) -> None:
    """Row ``r`` of float32 ``s`` becomes the softmax of its first ``lengths[r]`` entries (0
    after); Numba's threads for large inputs (rows are independent: the same result)."""
    big = s.size >= PARALLEL_MIN_ELEMENTS
    (_softmax_rows_inplace_parallel if big else _softmax_rows_inplace)(s, lengths)


def dense_probabilities(
    trace: Trace, layer: int, qids: np.ndarray, n_ctx: int, k_heads: np.ndarray | None = None
) -> np.ndarray:
    """The reference: dense float32 probabilities ``[H, len(qids), n_ctx]`` of the queries
    ``qids`` against the first ``n_ctx`` tokens (causal mask when the trace is causal).

    ``k_heads`` may hand in the layer's float32 keys already repeated per query head
    (``[H, tokens, d]``, see :func:`heads_float32`), so that generation iterations do not
    convert them again; the result is the same."""
    m = trace.meta
    q = trace.q[layer][:, qids].astype(np.float32)
    if k_heads is None:
        k_heads = heads_float32(trace.k[layer], trace.group_size)
    k = k_heads[:, :n_ctx]
    s = np.matmul(q, k.transpose(0, 2, 1))
    s *= np.float32(m.softmax_scale)
    b = trace.layer_bias(layer)
    if b is not None:
        s += b[:, qids][:, :, :n_ctx]
    h, nq, _ = s.shape
    if m.causal:
        lengths = np.minimum(qids.astype(np.int64) + 1, n_ctx)
    else:
        lengths = np.full(nq, n_ctx, dtype=np.int64)
    flat = np.ascontiguousarray(s.reshape(h * nq, n_ctx))
    _softmax_inplace(flat, np.tile(lengths, h))
    return flat.reshape(h, nq, n_ctx)


#: query rows per block of the dense reference's products (:func:`dense_rows`)
_ROW_BLOCK = 128


@dataclass(frozen=True, eq=False)
class DenseRows:
    """The dense reference for a block of query rows ``start .. stop - 1`` of one layer,
    computed from the trace alone (no hardware decision enters it): a prompt token's query
    (summarization) sees the prompt (its causal prefix when the trace is causal), a generated
    token ``t``'s query sees tokens ``0 .. t``."""

    start: int
    #: float32 ``[H, rows, d]``: the dense attention output of each row's query
    out: np.ndarray
    #: float64: the probabilities summed over the heads per key, ``[rows, keys]`` per row, or
    #: ``[keys]`` also summed over the rows (``summed``); ``keys`` = the widest row's context
    importance: np.ndarray


def dense_rows(trace: Trace, layer: int, start: int, stop: int, summed: bool) -> DenseRows:
    """:class:`DenseRows` of query rows ``start .. stop - 1`` of ``layer`` (rows of the prompt
    and rows of generated tokens are not mixed), float32 as :func:`dense_probabilities`, one
    head at a time so that memory stays at one head's ``[rows, keys]`` scores."""
    m = trace.meta
    P, H, g = m.prompt_tokens, m.n_heads, trace.group_size
    if start < P < stop:
        raise ValueError("a block of dense rows is all prompt or all generated tokens")
    rows = np.arange(start, stop, dtype=np.int64)
    if stop <= P:  # summarization
        lengths = np.minimum(rows + 1, P) if m.causal else np.full(rows.size, P, np.int64)
        n_keys = P
    else:  # generation: a generated token's query sees itself and every token before
        lengths = rows + 1
        n_keys = stop
    scale = np.float32(m.softmax_scale)
    bias = trace.layer_bias(layer)
    out = np.empty((H, rows.size, m.head_dim), dtype=np.float32)
    imp = np.zeros(n_keys if summed else (rows.size, n_keys), dtype=np.float64)
    # blocks of rows against the keys their last row sees (a causal pass skips the masked
    # upper triangle); a row's keys beyond its length are masked (probability 0) either way
    blocks = [(r0, min(rows.size, r0 + _ROW_BLOCK)) for r0 in range(0, rows.size, _ROW_BLOCK)]
    k32 = v32 = np.zeros((0, 0), dtype=np.float32)
    for h in range(H):
        if h % g == 0:
            k32 = trace.k[layer][h // g, :n_keys].astype(np.float32)
            v32 = trace.v[layer][h // g, :n_keys].astype(np.float32)
        q32 = trace.q[layer][h, start:stop].astype(np.float32)
        for r0, r1 in blocks:
            nk = int(lengths[r1 - 1])
            s = np.matmul(q32[r0:r1], k32[:nk].T)
            s *= scale
            if bias is not None:
                s += bias[h, start + r0 : start + r1, :nk]
            _softmax_inplace(s, lengths[r0:r1])
            out[h, r0:r1] = np.matmul(s, v32[:nk])
            if summed:
                imp[:nk] += s.sum(axis=0, dtype=np.float64)
            else:
                imp[r0:r1, :nk] += s
    return DenseRows(start, out, imp)


class DenseCache:
    """The dense reference's blocks of rows of one trace, kept for the next run of that trace.

    :func:`dense_rows` reads the trace alone (no policy, no hardware decision enters it), so the
    functional phases of one trace under different policies (the points of a sweep) compute the
    same blocks; this keeps them, up to ``max_bytes`` in all (blocks beyond it are computed and
    not kept). The results are the same arrays a fresh computation gives
    (tests/algo/test_fidelity.py); they are read-only.
    """

    def __init__(self, trace: Trace, max_bytes: int = 512 << 20) -> None:
        self.trace = trace  #: the trace it serves
        self.max_bytes = max_bytes
        self.bytes = 0  #: bytes of the blocks kept
        self.hits = 0
        self.misses = 0
        self._blocks: dict[tuple[int, int, int, bool], DenseRows] = {}

    def rows(self, layer: int, start: int, stop: int, summed: bool) -> DenseRows:
        """:func:`dense_rows` of the trace, kept or computed."""
        key = (layer, start, stop, summed)
        got = self._blocks.get(key)
        if got is not None:
            self.hits += 1
            return got
        self.misses += 1
        got = dense_rows(self.trace, layer, start, stop, summed)
        size = got.out.nbytes + got.importance.nbytes
        if self.bytes + size <= self.max_bytes:
            got.out.flags.writeable = False
            got.importance.flags.writeable = False
            self._blocks[key] = got
            self.bytes += size
        return got


def heads_float32(kv: np.ndarray, group: int) -> np.ndarray:
    """A layer's K or V (``[kv_heads, tokens, d]``) as float32, one copy per query head."""
    return np.repeat(kv.astype(np.float32), group, axis=0)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), float64."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    # group equal values
    bounds = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [x.size]))
    avg = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks; 1.0 if both are constant, 0.0 if only one."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2:
        return 1.0
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    na, nb = float(np.sqrt(ra @ ra)), float(np.sqrt(rb @ rb))
    if na == 0.0 or nb == 0.0:
        return 1.0 if na == nb else 0.0
    return float(ra @ rb / (na * nb))


def topk_overlap(
    kept_ids: np.ndarray, reference_scores: np.ndarray, candidates: np.ndarray
) -> float:
    """Fraction of ``kept_ids`` among the ``len(kept_ids)`` best ``candidates`` by
    ``reference_scores`` (indexed by token id); ties broken by position."""
    k = kept_ids.size
    if k == 0 or k >= candidates.size:
        return 1.0
    sc = reference_scores[candidates]
    best = candidates[np.argsort(-sc, kind="stable")[:k]]
    return float(np.intersect1d(best, kept_ids).size / k)


@dataclass
class _LayerAcc:
    err2: float = 0.0
    ref2: float = 0.0
    queries: int = 0
    spearman: list[float] = field(default_factory=list)
    overlap: list[float] = field(default_factory=list)


class FidelityAccumulator:
    """Collects the per-layer measures during the functional phase; :meth:`result` summarises."""

    def __init__(self) -> None:
        self._acc: dict[tuple[str, int], _LayerAcc] = {}

    def _get(self, stage: str, layer: int) -> _LayerAcc:
        return self._acc.setdefault((stage, layer), _LayerAcc())

    def add_output(self, stage: str, layer: int, hw: np.ndarray, ref: np.ndarray) -> None:
        """Outputs ``[heads, queries, head_dim]`` of the hardware and of the reference."""
        a = self._get(stage, layer)
        d = hw.astype(np.float64) - ref.astype(np.float64)
        a.err2 += float(np.sum(d * d))
        a.ref2 += float(np.sum(ref.astype(np.float64) ** 2))
        a.queries += int(ref.shape[1]) if ref.ndim == 3 else 0

    def add_importance(self, stage: str, layer: int, spearman_rho: float, overlap: float) -> None:
        a = self._get(stage, layer)
        a.spearman.append(spearman_rho)
        a.overlap.append(overlap)

    def result(self) -> dict:
        per: list[dict[str, object]] = []
        errs: list[float] = []
        sp: list[float] = []
        ov: list[float] = []
        for (stage, layer), a in sorted(
            self._acc.items(), key=lambda kv: (kv[0][0] != "summarization", kv[0][1])
        ):
            rel = float(np.sqrt(a.err2 / a.ref2)) if a.ref2 > 0 else float(np.sqrt(a.err2))
            spearman = float(np.mean(a.spearman)) if a.spearman else 1.0
            overlap = float(np.mean(a.overlap)) if a.overlap else 1.0
            per.append(
                {
                    "stage": stage,
                    "layer": layer,
                    "queries": a.queries,
                    "output_rel_error": rel,
                    "importance_spearman": spearman,
                    "importance_topk_overlap": overlap,
                }
            )
            errs.append(rel)
            sp.append(spearman)
            ov.append(overlap)
        return {
            "reference": "dense float32 attention on the trace's Q/K/V, no pruning or quantization",
            "per_layer": per,
            "output_rel_error_mean": float(np.mean(errs)) if errs else 0.0,
            "output_rel_error_max": float(np.max(errs)) if errs else 0.0,
            "importance_spearman_mean": float(np.mean(sp)) if sp else 1.0,
            "importance_spearman_min": float(np.min(sp)) if sp else 1.0,
            "importance_topk_overlap_mean": float(np.mean(ov)) if ov else 1.0,
            "importance_topk_overlap_min": float(np.min(ov)) if ov else 1.0,
        }
