"""Hypothesis strategies: small but realistic workloads and hardware overrides for timing tests.

The workloads are built directly (not through the functional phase), with the structure the
functional phase gives them (:mod:`spatten_sim.algo.functional`):

* encoders (summarization only, every query sees every surviving key) and decoders (a causal
  summarization of the prompt, then generation iterations of one query each); ``"generation"``
  decoders have no summarization, as the official CSVs;
* cascade token pruning (a layer's surviving keys are a sorted random subset of the previous
  layer's, remembered across iterations, always with the current token in generation; the
  layer job carries the token top-k call) and head
  pruning (the previous layer job carries the head top-k call);
* grouped-query attention: the first surviving head of a group fetches the group's K (and, in
  summarization, V) rows; later heads fetch nothing of them (in generation, only the V rows no
  earlier head of the group kept);
* progressive quantization with LSB re-fetch (random ``requant`` flags; the group's first
  re-quantizing head fetches the K LSB rows, every re-quantizing head its queries' Q LSB rows);
* local V pruning (``v_kept`` <= keys, positive top-k cycles: the official latency model or any
  positive number, also below the fill's own cycles).

A workload is drawn as a :class:`WorkloadSpec` (a few numbers and a seed for the per-query
arrays), so a falsifying example prints compactly and rebuilds with ``spec.build()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from spatten_sim.algo.topk import official_topk_latency
from spatten_sim.workload import Bits, HeadJob, LayerJob, TopkCall, Workload

__all__ = ["WorkloadSpec", "config_overrides", "workload_specs", "workloads"]

_EMPTY = np.zeros(0, np.int32)
KINDS = ("encoder", "decoder", "generation")


@dataclass(frozen=True)
class WorkloadSpec:
    """The shape and features of a random workload; :meth:`build` makes it (deterministic)."""

    kind: str  #: "encoder", "decoder" (summarization + generation) or "generation" (no summ.)
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    prompt: int  #: prompt tokens
    generated: int  #: generation iterations (0 for encoders)
    bits: tuple[int, int, int, int, int, int]  #: q_msb, q_lsb, k_msb, k_lsb, v_msb, v_lsb
    requant_pct: int  #: chance (%) a query re-quantizes (0: re-fetch off)
    local_v: bool  #: local V pruning (select mode of the top-k engine)
    token_prune_pct: int  #: chance (%) a layer job prunes tokens
    head_prune_pct: int  #: chance (%) a layer job prunes heads
    official_topk: bool  #: top-k cycles from the official latency model, else random
    seed: int

    @property
    def causal(self) -> bool:
        return self.kind != "encoder"

    def build(self) -> Workload:
        return _build(self)


def _topk_cycles(spec: WorkloadSpec, rng: np.random.Generator, n: int, k: int) -> int:
    if spec.official_topk:
        return official_topk_latency(n, max(0, k - 1), rng=rng)[0]
    return int(rng.integers(1, 2 * n + 8))


def _prune(rng: np.random.Generator, ids: np.ndarray, keep: int = -1) -> np.ndarray:
    """A sorted random subset of 1 .. len(ids) - 1 of ``ids``, with ``keep`` if it is one."""
    k = int(rng.integers(1, ids.size))
    if keep in ids:
        rest = rng.choice(ids[ids != keep], size=k - 1, replace=False)
        return np.sort(np.append(rest, keep)).astype(np.int32)
    return np.sort(rng.choice(ids, size=k, replace=False)).astype(np.int32)


def _build(spec: WorkloadSpec) -> Workload:
    rng = np.random.default_rng(spec.seed)
    n_l, n_h, n_kv, d = spec.n_layers, spec.n_heads, spec.n_kv_heads, spec.head_dim
    group = n_h // n_kv
    p, g = spec.prompt, spec.generated
    bits = Bits(*spec.bits)
    refetch = spec.requant_pct > 0 and bits.k_lsb > 0
    alive_tok = np.zeros((n_l, p + g), bool)
    alive_tok[:, :p] = True
    alive_head = np.ones((n_l, n_h), bool)
    passes = [] if spec.kind == "generation" else [("summarization", 0)]
    passes += [("generation", it) for it in range(1, g + 1)]
    layers: list[dict] = []
    dense_pairs = 0
    for stage, it in passes:
        gen = stage == "generation"
        t = p + it - 1
        n_ctx = p + it if gen else p
        dense_pairs += n_ctx if gen else (p * (p + 1) // 2 if spec.causal else p * p)
        prev_tok = prev_head = None
        for layer in range(n_l):
            cand = alive_tok[layer].copy()
            if gen:
                cand[t] = True
            if prev_tok is not None:
                cand &= prev_tok
            ids = np.flatnonzero(cand).astype(np.int32)
            tok_call = None
            if ids.size > 1 and rng.integers(100) < spec.token_prune_pct:
                kept = _prune(rng, ids, t if gen else -1)  # the current token stays
                tok_call = TopkCall(
                    int(ids.size), int(kept.size), _topk_cycles(spec, rng, ids.size, kept.size)
                )
                ids = kept
                cand[:] = False
                cand[ids] = True
            alive_tok[layer] = prev_tok = cand
            hc = alive_head[layer].copy()
            if prev_head is not None:
                hc &= prev_head
            hs = np.flatnonzero(hc)
            if hs.size > 1 and rng.integers(100) < spec.head_prune_pct:
                kept_h = _prune(rng, hs)
                call = TopkCall(
                    int(hs.size), int(kept_h.size), _topk_cycles(spec, rng, hs.size, kept_h.size)
                )
                if layers:
                    layers[-1]["head_topk"] = call
                hc[:] = False
                hc[kept_h] = True
            alive_head[layer] = prev_head = hc
            heads = []
            for kv in range(n_kv):
                members = [h for h in range(kv * group, (kv + 1) * group) if hc[h]]
                heads += _group_jobs(
                    spec, rng, bits, refetch, stage, it, layer, kv, members, ids, t
                )
            layers.append(
                {
                    "stage": stage,
                    "iteration": it,
                    "layer": layer,
                    "heads": tuple(heads),
                    "tokens_kept": int(ids.size),
                    "tokens_total": int(n_ctx),
                    "heads_kept": int(hc.sum()),
                    "token_topk": tok_call,
                    "head_topk": None,
                }
            )
    return Workload(
        source=f"hypothesis:{spec}",
        model="random",
        n_layers=n_l,
        n_heads=n_h,
        n_kv_heads=n_kv,
        head_dim=d,
        causal=spec.causal,
        prompt_tokens=p,
        generated_tokens=g,
        layers=tuple(LayerJob(**lj) for lj in layers),
        dense_ops=2 * 2 * d * n_h * n_l * dense_pairs,
    )


def _group_jobs(
    spec: WorkloadSpec,
    rng: np.random.Generator,
    bits: Bits,
    refetch: bool,
    stage: str,
    it: int,
    layer: int,
    kv: int,
    members: list[int],
    key_ids: np.ndarray,
    t: int,
) -> list[HeadJob]:
    """The head jobs of one K/V group, fetch lists as the functional phase fills them."""
    gen = stage == "generation"
    nk = int(key_ids.size)
    if gen:
        query_ids = np.array([t], np.int32)
        kpq = np.array([nk], np.int32)
    else:
        query_ids = key_ids
        kpq = np.arange(1, nk + 1, dtype=np.int32) if spec.causal else np.full(nk, nk, np.int32)
    nq = int(query_ids.size)
    jobs = []
    lsb_done = False
    v_done = np.zeros(nk, bool)
    vl_done = np.zeros(nk, bool)
    for i, h in enumerate(members):
        first = i == 0
        req = rng.integers(100, size=nq) < spec.requant_pct if refetch else np.zeros(nq, bool)
        if spec.local_v:
            v_kept = np.array([rng.integers(1, n + 1) for n in kpq], np.int32)
            cycles = np.array(
                [_topk_cycles(spec, rng, int(n), int(m)) for n, m in zip(kpq, v_kept, strict=True)],
                np.int64,
            )
        else:
            v_kept = kpq.copy()
            cycles = np.zeros(nq, np.int64)
        # generation: the V rows this head keeps (its single query's top-k)
        used = np.zeros(nk, bool)
        if gen:
            used[rng.choice(nk, size=int(v_kept[0]), replace=False)] = True
        k_lsb = q_lsb = v_lsb = _EMPTY
        if req.any():
            if not lsb_done:
                k_lsb = key_ids
            if bits.q_lsb:
                q_lsb = query_ids[req]
            if bits.v_lsb:
                if gen:
                    v_lsb = key_ids[used & ~vl_done]
                    vl_done |= used
                elif not lsb_done:
                    v_lsb = key_ids
            lsb_done = True
        if gen:
            v_fetch = key_ids[used & ~v_done]
            v_done |= used
        else:
            v_fetch = key_ids if first else _EMPTY
        jobs.append(
            HeadJob(
                stage=stage,  # type: ignore[arg-type]
                iteration=it,
                layer=layer,
                head=int(h),
                kv_head=kv,
                head_dim=spec.head_dim,
                bits=bits,
                query_ids=query_ids,
                n_keys=nk,
                keys_per_query=kpq,
                requant=req,
                v_kept=v_kept,
                local_topk_cycles=cycles,
                q_fetch=query_ids,
                k_msb_fetch=key_ids if first else _EMPTY,
                k_lsb_fetch=k_lsb,
                v_fetch=v_fetch.astype(np.int32),
                q_lsb_fetch=q_lsb.astype(np.int32),
                v_lsb_fetch=v_lsb.astype(np.int32),
            )
        )
    return jobs


@st.composite
def workload_specs(draw, max_tokens: int = 40, max_layers: int = 3) -> WorkloadSpec:
    """Random small workloads: a few layers, 1-4 heads, up to ``max_tokens`` tokens."""
    kind = draw(st.sampled_from(KINDS))
    n_heads = draw(st.integers(1, 4))
    n_kv = draw(st.sampled_from([k for k in range(1, n_heads + 1) if n_heads % k == 0]))
    if kind == "encoder":
        n_kv = n_heads if draw(st.booleans()) else n_kv  # mostly without GQA
        generated = 0
    else:
        generated = draw(st.integers(1 if kind == "generation" else 0, 3))
    prompt = draw(st.integers(1, max_tokens - generated))
    refetch = draw(st.booleans())
    k_lsb = draw(st.sampled_from([2, 4, 6])) if refetch else 0
    q_lsb = draw(st.sampled_from([0, 4])) if refetch else 0
    v_lsb = draw(st.sampled_from([0, 4])) if refetch else 0
    bits = (
        draw(st.sampled_from([8, 12, 16])),
        q_lsb,
        draw(st.sampled_from([4, 6, 8, 10, 12])),
        k_lsb,
        draw(st.sampled_from([4, 6, 8, 12])),
        v_lsb,
    )
    return WorkloadSpec(
        kind=kind,
        n_layers=draw(st.integers(1, max_layers)),
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=draw(st.sampled_from([32, 64])),
        prompt=prompt,
        generated=generated,
        bits=bits,
        requant_pct=draw(st.sampled_from([10, 50, 100])) if refetch else 0,
        local_v=draw(st.booleans()),
        token_prune_pct=draw(st.sampled_from([0, 50, 100])),
        head_prune_pct=draw(st.sampled_from([0, 50])),
        official_topk=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def workloads(**kwargs) -> st.SearchStrategy[Workload]:
    """:func:`workload_specs`, built."""
    return workload_specs(**kwargs).map(WorkloadSpec.build)


def _maybe(key: str, values: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), values.map(lambda v: [f"{key}={v}"]))


@st.composite
def config_overrides(draw) -> list[str]:
    """``--set`` overrides that stress the pipeline's rules (on top of ``dense``/``spatten``).

    Tiny FIFOs and score buffer, an in-flight window of 1..4, both softmax implementations, the
    layer barrier off, single buffering, few comparators, narrow multiplier arrays, a slow address
    generator, and key/value SRAMs small enough to split heads and make V allocations wait.
    Several of the keys may be left at their preset values.
    """
    sets: list[str] = []
    sets.append(f"softmax.impl={draw(st.sampled_from(['two_pass', 'pass_through']))}")
    parts = [
        _maybe("softmax.fifo_depth", st.integers(1, 4)),
        _maybe("softmax.score_buffer_entries", st.integers(1, 8)),
        _maybe("decision.fifo_depth", st.integers(1, 3)),
        _maybe("probxv.input_fifo_depth", st.integers(1, 4)),
        _maybe("fetcher.max_in_flight_requests", st.integers(1, 4)),
        _maybe("fetcher.address_issue_per_cycle", st.sampled_from([1, 3])),
        _maybe("timing.layer_barrier", st.just("false")),
        _maybe("buffers.double_buffered", st.just("false")),
        _maybe("topk.comparators", st.sampled_from([1, 2, 4])),
        _maybe("qxk.multipliers", st.sampled_from([64, 128])),
        _maybe("probxv.multipliers", st.sampled_from([64, 128])),
        # 48 or 96 B a row at 12-bit words: a few hundred bytes split most heads
        _maybe("buffers.key_sram_bytes", st.sampled_from([96, 400, 1000, 3000])),
        _maybe("buffers.value_sram_bytes", st.sampled_from([96, 400, 1000, 3000])),
        _maybe("softmax.passthrough_latency_cycles", st.integers(1, 3)),
        _maybe("decision.latency_cycles", st.integers(1, 3)),
        _maybe("memory.channels", st.sampled_from([1, 2])),
        _maybe("memory.latency_ns", st.sampled_from([1, 40])),
    ]
    for part in parts:
        sets += draw(part)
    return sets
