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

from dataclasses import dataclass, field, replace
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


def cut_workload(
    wl: Workload,
    n_layers: int | None = None,
    n_iterations: int | None = None,
    max_heads: int | None = None,
    max_queries: int | None = None,
) -> Workload:
    """A smaller, self-consistent copy of ``wl`` (for tests and quick studies).

    * ``n_layers``: keep the layer jobs of layers ``0 .. n_layers - 1`` (of every stage).
    * ``n_iterations``: keep iterations ``0 .. n_iterations`` (0 = summarization, so
      ``n_iterations=0`` keeps the summarization only); an official CSV starts at iteration 1.
    * ``max_heads``: keep the first ``max_heads`` head jobs of each layer job. The heads of a
      GQA group are consecutive in program order and the group's K/V are fetched by its first
      head (later heads' fetch lists hold only what was not fetched before), so a prefix of the
      heads keeps whole leading groups and the fetching head of a partly kept group: the fetch
      lists stay valid as they are.
    * ``max_queries``: keep the first ``max_queries`` queries of each head job. Every per-query
      array is sliced alike (``query_ids``, ``keys_per_query``, ``requant``, ``v_kept``,
      ``local_topk_cycles``); the Q fetch lists (``q_fetch``, ``q_lsb_fetch``) keep only the rows
      of the kept queries. The K and V fetch lists and ``n_keys`` are kept: they are the group's
      surviving keys, which a later head of the group (or a kept query) may read, and ``n_keys``
      decides whether a summarization head is split.

    ``None`` leaves a dimension as it is. The workload's ``n_heads`` and ``n_kv_heads`` are kept
    (they size the DRAM address layout, and head ids are kept); ``n_layers`` becomes the number
    of layers kept, ``generated_tokens`` the generation iterations kept (raised, never above the
    original, when a kept fetch list reads token ids beyond them: the layout must cover every
    fetched row). ``dense_ops`` is recomputed for what is kept: for every kept layer job, the
    dense QxK and probxV work of ``min(n_heads, max_heads)`` heads over the kept queries (the
    first ``max_queries`` of the prompt in summarization, the single query of a generation
    iteration against ``prompt_tokens + iteration`` keys), so an uncut workload keeps its
    value. ``heads_kept`` of a layer job is capped at ``max_heads``; the other layer fields, the
    top-k calls and ``notes`` are kept (``notes["cut"]`` records the cut); ``fidelity``, which
    describes the whole run, is dropped.
    """
    for name, v, lo in (
        ("n_layers", n_layers, 0),
        ("n_iterations", n_iterations, 0),
        ("max_heads", max_heads, 1),
        ("max_queries", max_queries, 1),
    ):
        if v is not None and v < lo:
            raise ValueError(f"cut_workload: {name} must be >= {lo} (got {v})")

    def cut_head(hj: HeadJob) -> HeadJob:
        if max_queries is None or hj.n_queries <= max_queries:
            return hj
        sl = slice(0, max_queries)
        kept_q = hj.query_ids[sl]
        return replace(
            hj,
            query_ids=kept_q,
            keys_per_query=hj.keys_per_query[sl],
            requant=hj.requant[sl],
            v_kept=hj.v_kept[sl],
            local_topk_cycles=hj.local_topk_cycles[sl],
            q_fetch=hj.q_fetch[np.isin(hj.q_fetch, kept_q)],
            q_lsb_fetch=hj.q_lsb_fetch[np.isin(hj.q_lsb_fetch, kept_q)],
        )

    layers = []
    for lj in wl.layers:
        if n_layers is not None and lj.layer >= n_layers:
            continue
        if n_iterations is not None and lj.iteration > n_iterations:
            continue
        heads = lj.heads if max_heads is None else lj.heads[:max_heads]
        layers.append(
            replace(
                lj,
                heads=tuple(cut_head(h) for h in heads),
                heads_kept=lj.heads_kept if max_heads is None else min(lj.heads_kept, max_heads),
            )
        )

    kept_layers = wl.n_layers if n_layers is None else min(wl.n_layers, n_layers)
    generated = max((lj.iteration for lj in layers), default=0)
    max_id = -1
    for lj in layers:
        for hj in lj.heads:
            for a in (
                hj.query_ids,
                hj.q_fetch,
                hj.q_lsb_fetch,
                hj.k_msb_fetch,
                hj.k_lsb_fetch,
                hj.v_fetch,
                hj.v_lsb_fetch,
            ):
                if a.size:
                    max_id = max(max_id, int(a.max()))
    generated = min(max(generated, max_id + 1 - wl.prompt_tokens, 0), wl.generated_tokens)

    heads_n = wl.n_heads if max_heads is None else min(wl.n_heads, max_heads)
    p = wl.prompt_tokens
    n_q = p if max_queries is None else min(p, max_queries)
    pairs = 0
    for lj in layers:
        if lj.stage == "summarization":
            pairs += n_q * (n_q + 1) // 2 if wl.causal else n_q * p
        else:
            pairs += p + lj.iteration
    dense_ops = 2 * 2 * wl.head_dim * heads_n * pairs

    cut = {
        "n_layers": n_layers,
        "n_iterations": n_iterations,
        "max_heads": max_heads,
        "max_queries": max_queries,
    }
    return replace(
        wl,
        n_layers=kept_layers,
        generated_tokens=generated,
        layers=tuple(layers),
        dense_ops=dense_ops,
        fidelity=None,
        notes={**wl.notes, "cut": cut},
    )


def first_difference(a: Workload, b: Workload) -> str | None:
    """Where two workloads' decisions first differ (every field of every layer job and head job,
    arrays element for element), or None when they are identical. Fidelity and notes, which
    record how the decisions were checked rather than the decisions, are not compared."""
    import dataclasses

    if len(a.layers) != len(b.layers):
        return f"{len(a.layers)} layer jobs against {len(b.layers)}"
    for la, lb in zip(a.layers, b.layers, strict=True):
        where = f"{la.stage} {la.iteration} layer {la.layer}"
        for f in dataclasses.fields(la):
            va, vb = getattr(la, f.name), getattr(lb, f.name)
            if f.name != "heads":
                if va != vb:
                    return f"{where}: {f.name} {va!r} != {vb!r}"
                continue
            if len(va) != len(vb):
                return f"{where}: {len(va)} head jobs against {len(vb)}"
            for ha, hb in zip(va, vb, strict=True):
                for g in dataclasses.fields(ha):
                    xa, xb = getattr(ha, g.name), getattr(hb, g.name)
                    same = np.array_equal(xa, xb) if isinstance(xa, np.ndarray) else xa == xb
                    if not same:
                        return f"{where} head {ha.head}: {g.name} differs"
    return None
