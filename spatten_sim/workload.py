"""The workload: the job stream between the functional phase and the timing phase.

The functional phase (:mod:`spatten_sim.algo`) runs the SpAtten algorithm on a trace's real data
and makes every data-dependent decision; the official SpAtten workload CSVs import into the same
structure (:mod:`spatten_sim.workload_csv`). The timing phase (:mod:`spatten_sim.hw`) only
replays it: no decision is made in the timing phase, and no timing feeds back into a decision.

Structure: a :class:`Workload` is a sequence of :class:`LayerJob` in processing order (the
summarization stage's layers, then for each generation iteration its layers). A layer job holds
one :class:`HeadJob` per *surviving* query head, in processing order, plus the token top-k that
runs before the layer and the head top-k that runs after it.

Grouped-query attention: the query heads that share a K/V head are processed one after the
other; K and V of the group are fetched once, by the first head of the group that needs them
(the fetch lists of a :class:`HeadJob` hold only what was not fetched before for the group in this
layer and iteration). Token ids are positions in the trace (0 = first token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Stage = Literal["summarization", "generation"]


@dataclass(frozen=True)
class TopkCall:
    """One call of the token/head top-k engine: keep ``k`` of ``n`` in ``cycles`` cycles."""

    n: int
    k: int
    cycles: int


@dataclass(frozen=True)
class Bits:
    """Bit widths of the fixed-point words fetched from DRAM (0 LSB bits = no LSB part)."""

    q_msb: int
    q_lsb: int
    k_msb: int
    k_lsb: int
    v_msb: int
    v_lsb: int


@dataclass(frozen=True, eq=False)
class HeadJob:
    """All the work of one query head in one layer (and one generation iteration).

    Per-query arrays have one entry per query, in processing order. Fetch lists are token ids
    (int32, ascending) whose rows are read from DRAM for this job; empty when already on chip.
    """

    stage: Stage
    iteration: int  #: 0 = summarization; 1..G = generation iterations
    layer: int
    head: int  #: query head index
    kv_head: int  #: the K/V head it reads (== head without GQA)
    head_dim: int
    bits: Bits  #: word widths; ``bits.k_lsb`` etc. are what an LSB re-fetch reads
    query_ids: np.ndarray  #: int32 [n_q] token ids of the queries
    n_keys: int  #: surviving keys of this layer visible to the head (its K/V SRAM footprint)
    keys_per_query: np.ndarray  #: int32 [n_q] keys each query multiplies (causal prefix count)
    requant: np.ndarray  #: bool [n_q] max prob under threshold: LSBs fetched, QxK+softmax redone
    v_kept: np.ndarray  #: int32 [n_q] V rows multiplied by probxV (local-V pruning)
    local_topk_cycles: np.ndarray  #: int64 [n_q] local-V top-k engine cycles (0 when off)
    q_fetch: np.ndarray  #: int32 token ids whose Q rows are fetched (MSB part)
    k_msb_fetch: np.ndarray  #: int32 token ids whose K MSB rows are fetched
    k_lsb_fetch: np.ndarray  #: int32 token ids whose K LSB rows are fetched on re-fetch
    v_fetch: np.ndarray  #: int32 token ids whose V rows are fetched
    q_lsb_fetch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    v_lsb_fetch: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    @property
    def n_queries(self) -> int:
        return int(self.query_ids.shape[0])


@dataclass(frozen=True, eq=False)
class LayerJob:
    """One layer of one stage/iteration: the surviving heads and the top-k calls around them."""

    stage: Stage
    iteration: int
    layer: int
    heads: tuple[HeadJob, ...]
    tokens_kept: int  #: tokens surviving cascade token pruning at this layer
    tokens_total: int  #: tokens before any pruning (the context length)
    heads_kept: int  #: query heads surviving cascade head pruning at this layer
    token_topk: TopkCall | None = None  #: runs before the layer (None when not pruned here)
    head_topk: TopkCall | None = None  #: runs after the layer (None when not pruned after it)


@dataclass(frozen=True, eq=False)
class Workload:
    """The whole job stream of one run, plus what the report needs to count work."""

    source: str  #: trace or CSV path
    model: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    causal: bool
    prompt_tokens: int
    generated_tokens: int
    layers: tuple[LayerJob, ...]
    #: dense-equivalent attention work in operations (multiply and add each count 1) of the
    #: unpruned model on the same input: QxK and probxV of every head, layer and iteration.
    dense_ops: int
    #: per-layer fidelity against the dense float computation (None for replayed CSVs)
    fidelity: dict | None = None
    #: free-form provenance (policy summary, replay mapping notes)
    notes: dict = field(default_factory=dict)

    def head_jobs(self):
        for lj in self.layers:
            yield from lj.heads


def dense_attention_ops(
    n_heads: int, head_dim: int, n_layers: int, prompt_tokens: int, generated: int, causal: bool
) -> int:
    """Dense-equivalent ops (mult + add = 2 ops per MAC) of QxK and probxV.

    Summarization: every query of the prompt against every key it may see (all keys, or the causal
    prefix). Generation: iteration i (1-based) has one query against ``prompt_tokens + i`` keys.
    """
    t = prompt_tokens
    pairs = t * (t + 1) // 2 if causal else t * t
    pairs += sum(prompt_tokens + i for i in range(1, generated + 1))
    return 2 * 2 * head_dim * n_heads * n_layers * pairs
