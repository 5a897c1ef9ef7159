"""The functional phase: SpAtten's algorithm run on a trace's data, as the hardware computes it.

:func:`build_workload` takes a :class:`~spatten_sim.trace.Trace` and an
:class:`~spatten_sim.config.HwConfig` and makes every data-dependent decision of docs/spatten.md §2:
which tokens and heads survive, which queries re-fetch LSBs, which V rows each query keeps, and how
many cycles each top-k call takes (the Numba top-k engine of :mod:`spatten_sim.algo.topk` runs on
the real values). The result is the :class:`~spatten_sim.workload.Workload` the timing phase
replays, plus the fidelity against dense float attention. ``docs/algorithms.md`` describes every
modelling decision; the essentials:

Arithmetic (:mod:`spatten_sim.algo.quant`): Q, K, V are linear symmetric fixed point of
``msb + lsb`` bits with one scale per (layer, head). QxK multiplies integer codes; the softmax
dequantizes (folding in the softmax scale), adds the bias, masks, exponentiates, divides in float32
and requantizes the probabilities to ``buffers.word_bits``. probxV multiplies the kept
probabilities with the V values.

Progressive quantization [P]: when on for the stage (generation always; summarization only with
``in_summarization``), a query is first computed with MSB-only Q/K (and V); if its maximum
probability is below ``threshold`` it is recomputed with MSB+LSB values (``requant``). When off,
the static word is ``msb + lsb`` bits and every query uses the full values.

``HeadJob.bits`` (what the timing phase reads per fetch list):
``q_msb``/``k_msb``/``v_msb`` are the widths of the rows in ``q_fetch``/``k_msb_fetch``/
``v_fetch``: ``msb`` bits when progressive quantization is on for the stage, else the static
``msb + lsb``; ``q_lsb``/``k_lsb``/``v_lsb`` are the widths of the rows in the ``*_lsb_fetch``
lists (re-fetch), 0 when progressive quantization is off for the stage.

Cascade token pruning [P]: one cumulative score per token (sum over surviving heads and queries of
the fixed-point probabilities, every layer, every stage and iteration). Before a pruning layer
``l`` (schedule: :mod:`spatten_sim.algo.schedule`), the engine keeps
``top-k(scores of the candidates, ceil(L * r_l))`` where the candidates are the tokens that
survived layer ``l - 1`` of this pass *and* layer ``l`` of the previous pass (pruned tokens never
come back), and ``L`` is the context length of the pass. The call runs only when it removes
something (k < candidates), and its engine cycles go to ``LayerJob.token_topk``.

Cascade head pruning [P]: one cumulative score per query head (sum of ``|E|`` over its queries
and features), top-k of ``ceil(H * r_l)`` before pruning layer ``l`` among the heads alive at
layer ``l - 1`` (and at layer ``l`` of the previous pass), decided after layer ``l - 1`` finished:
the call is ``head_topk`` of the previous layer job. ``head_pruning_granularity='kv_group'``
prunes whole K/V groups (score: the sum over the group's query heads; ``ceil(H_kv * r_l)`` groups
kept).

Stages: summarization of the prompt (all tokens for an encoder): every surviving token is a
query against the surviving keys (causal traces: the keys at or before it). Decoders then run one
generation iteration per generated token ``t``: its query attends to the surviving KV cache of
each layer plus itself (the current token is always kept in its own iteration: its score enters
the token top-k as +inf, because its importance has not been accumulated yet).

Grouped-query attention: the query heads of a K/V group are processed one after the other; the
first surviving head of the group fetches the group's surviving K (and in summarization V) rows,
later heads fetch nothing more; Q rows are fetched per query head. In generation V is fetched
after local-V pruning: each head fetches the V rows its query keeps that no earlier head of the
group fetched in this layer and iteration. LSB re-fetch: the first re-fetching query of the group
fetches the K LSBs of all surviving keys (later ones reuse them); Q LSBs are fetched per query.
Local V pruning is per query head. Token pruning is per layer, for all heads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from spatten_sim.algo import schedule as sched
from spatten_sim.algo import token_policy
from spatten_sim.algo.blas import single_threaded_blas
from spatten_sim.algo.fidelity import (
    DenseCache,
    DenseRows,
    FidelityAccumulator,
    dense_rows,
    spearman,
    topk_overlap,
)
from spatten_sim.algo.quant import (
    PARALLEL_MIN_ELEMENTS,
    QuantSpec,
    probability_code_sums,
    quantize,
    softmax_fixed,
)
from spatten_sim.algo.topk import topk_rows_detail
from spatten_sim.config import HwConfig
from spatten_sim.trace import Trace
from spatten_sim.workload import (
    Bits,
    HeadJob,
    LayerJob,
    Stage,
    TopkCall,
    Workload,
    dense_attention_ops,
)

__all__ = [
    "FunctionalBuilder",
    "FunctionalResult",
    "LayerScales",
    "build_workload",
    "calibrate_scales",
    "functional_result",
    "run_functional",
]

_EMPTY = np.zeros(0, dtype=np.int32)
#: generation iterations whose dense fidelity reference is computed together, per layer
_DENSE_BLOCK = 64


# ---------------------------------------------------------------------------------------------
# the top-k engine: every call of the functional phase goes through these two functions
@dataclass(frozen=True)
class _Engine:
    comparators: int
    overhead: int
    seed: int

    def rows(
        self, values: np.ndarray, lengths: np.ndarray, ks: np.ndarray, streamed: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batched engine: keep mask [rows, n] and cycles [rows].

        ``streamed``: the engine sits on the softmax -> probxV stream (local-V top-k), so its
        fill pass overlaps the softmax output coming in and its filter pass the kept ids going
        out; only the quick-select rounds occupy it, as the official latency model counts
        (docs/topk.md). Otherwise (token/head top-k over stored scores) fill + rounds + filter.
        """
        res = topk_rows_detail(
            values,
            lengths.astype(np.int64),
            ks.astype(np.int64),
            comparators=self.comparators,
            seed=self.seed,
            round_overhead_cycles=self.overhead,
            parallel=values.size >= PARALLEL_MIN_ELEMENTS,  # identical results either way
        )
        return res.keep_mask, (res.select_cycles if streamed else res.cycles)

    def one(self, values: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """One stream: kept positions (ascending) and cycles."""
        keep, cycles = self.rows(
            np.ascontiguousarray(values, dtype=np.float64)[None, :],
            np.array([values.size]),
            np.array([k]),
        )
        return np.flatnonzero(keep[0]), int(cycles[0])


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Policy:
    #: per layer, the keep ratio of token pruning (cascade: the schedule's; KV-cache kinds:
    #: ``budget_ratio``, None with an absolute ``budget_tokens``); None: the layer keeps all
    tok_ratios: tuple[float | None, ...]
    tok: token_policy.TokenPolicy  #: which tokens each layer keeps (algo/token_policy.py)
    head_ratios: tuple[float | None, ...]
    kv_group_pruning: bool
    local_v: float | None  #: keep ratio, None when off
    local_v_in_summarization: bool
    q: QuantSpec
    k: QuantSpec
    v: QuantSpec
    progressive: bool
    prog_in_summarization: bool
    threshold: float
    word_bits: int

    def local_v_for(self, stage: str) -> float | None:
        """Local-V keep ratio in ``stage`` (None: every visible V row is used)."""
        if stage == "summarization" and not self.local_v_in_summarization:
            return None
        return self.local_v

    def progressive_for(self, stage: str) -> bool:
        return self.progressive and (stage == "generation" or self.prog_in_summarization)

    def bits_for(self, stage: str) -> Bits:
        if self.progressive_for(stage):
            return Bits(
                self.q.msb_bits,
                self.q.lsb_bits,
                self.k.msb_bits,
                self.k.lsb_bits,
                self.v.msb_bits,
                self.v.lsb_bits,
            )
        return Bits(self.q.total_bits, 0, self.k.total_bits, 0, self.v.total_bits, 0)


def _policy(cfg: HwConfig, n_layers: int) -> _Policy:
    p = cfg.policy
    qz = p.quantization
    tok = token_policy.make_policy(p.token_pruning, n_layers)
    return _Policy(
        tok_ratios=tok.ratios,
        tok=tok,
        head_ratios=sched.keep_ratios(p.head_pruning, n_layers)
        if p.head_pruning.enabled
        else (None,) * n_layers,
        kv_group_pruning=p.head_pruning_granularity == "kv_group",
        local_v=p.local_v_pruning.keep_ratio if p.local_v_pruning.enabled else None,
        local_v_in_summarization=p.local_v_pruning.in_summarization,
        q=QuantSpec(qz.q_msb_bits, qz.q_lsb_bits),
        k=QuantSpec(qz.k_msb_bits, qz.k_lsb_bits),
        v=QuantSpec(qz.v_msb_bits, qz.v_lsb_bits),
        progressive=p.progressive_quantization.enabled,
        prog_in_summarization=p.progressive_quantization.in_summarization,
        threshold=p.progressive_quantization.threshold,
        word_bits=cfg.buffers.word_bits,
    )


@dataclass(frozen=True, eq=False)
class _LayerData:
    """Fixed-point Q/K/V of one layer (int16/int32 codes, float64 per-head scales)."""

    q_code: np.ndarray  #: [H, T, d]
    q_scale: np.ndarray  #: [H]
    k_code: np.ndarray  #: [Hkv, T, d]
    k_scale: np.ndarray
    v_code: np.ndarray
    v_scale: np.ndarray

    def scales(self) -> LayerScales:
        return LayerScales(self.q_scale.copy(), self.k_scale.copy(), self.v_scale.copy())


@dataclass(frozen=True, eq=False)
class LayerScales:
    """The fixed-point scales of one layer (float64): ``q`` per query head, ``k`` and ``v`` per
    K/V head. By default they are calibrated on the trace itself (``max|x|`` over its tokens, see
    :mod:`spatten_sim.algo.quant`); a caller that feeds the layers one at a time (the accuracy
    run, :mod:`spatten_sim.accuracy`) passes scales calibrated beforehand."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray


def calibrate_scales(trace: Trace, cfg: HwConfig) -> tuple[LayerScales, ...]:
    """The per-layer scales :func:`run_functional` uses for ``trace`` when given none."""
    pol = _policy(cfg, trace.meta.n_layers)
    return tuple(
        _quantize_layer(trace, layer, pol).scales() for layer in range(trace.meta.n_layers)
    )


def _quantize_layer(
    trace: Trace, layer: int, pol: _Policy, scales: LayerScales | None = None
) -> _LayerData:
    out = []
    specs = ((trace.q[layer], pol.q), (trace.k[layer], pol.k), (trace.v[layer], pol.v))
    given = (None, None, None) if scales is None else (scales.q, scales.k, scales.v)
    for (arr, spec), sc in zip(specs, given, strict=True):
        fp = quantize(arr, spec, (-2, -1), None if sc is None else sc.reshape(-1, 1, 1))
        dt = np.int16 if spec.total_bits <= 16 else np.int32
        out += [fp.code.astype(dt), fp.scale.reshape(-1)]
    return _LayerData(*out)


def _quantize_rows(trace: Trace, layer: int, pol: _Policy, data: _LayerData, rows: slice) -> None:
    """Quantize tokens ``rows`` of ``layer`` into ``data``'s codes with its (fixed) scales: the
    codes are elementwise in the values, so rows quantized as they arrive equal the whole layer
    quantized at once."""
    for arr, spec, code, sc in (
        (trace.q[layer], pol.q, data.q_code, data.q_scale),
        (trace.k[layer], pol.k, data.k_code, data.k_scale),
        (trace.v[layer], pol.v, data.v_code, data.v_scale),
    ):
        fp = quantize(arr[:, rows], spec, (-2, -1), sc.reshape(-1, 1, 1))
        code[:, rows] = fp.code


def _msb(code: np.ndarray, lsb: int) -> np.ndarray:
    return code if lsb == 0 else np.left_shift(np.right_shift(code, lsb), lsb)


#: integer dot products whose every partial sum stays below this are exact in float32
_F32_EXACT = 1 << 24


#: rows per block when a causal product skips the keys its rows do not see
_CAUSAL_BLOCK = 128


def exact_int_matmul(
    a: np.ndarray, b: np.ndarray, shift: int = 0, prefix: np.ndarray | None = None
) -> np.ndarray:
    """``(a @ b.T) * 2**shift`` as float64 for integer codes ``a`` ``[..., n, d]`` and ``b``
    ``[m, d]``, bit-identical to the float64 product.

    When ``max|a| * max|b| * d < 2**24`` every product and partial sum is an integer that float32
    represents exactly, whatever order BLAS adds them in, so the product runs in float32 (twice
    the speed) and is converted; otherwise in float64 (exact below 2**53). ``shift`` scales by a
    power of two (exact): MSB codes are passed shifted down so that their bound is small.

    ``prefix`` (non-decreasing, one per row of ``a``: a causal pass) says row ``i`` needs only
    columns ``0 .. prefix[i] - 1``: the rows are then multiplied in blocks against the columns
    the block's last row sees; an entry a row does not see holds 0 or the product (the softmax
    reads only the seen ones). The sums are exact whatever their order, so each computed entry
    is the same as in the whole product.
    """
    d = a.shape[-1]
    amax = int(np.abs(a).max()) if a.size else 0
    bmax = int(np.abs(b).max()) if b.size else 0
    dt = np.float32 if amax * bmax * d < _F32_EXACT else np.float64
    a_t, b_t = a.astype(dt), b.astype(dt)
    n, m = a.shape[-2], b.shape[0]
    if prefix is None or n <= _CAUSAL_BLOCK:
        out = np.matmul(a_t, b_t.T).astype(np.float64, copy=False)
    else:
        out = np.zeros((*a.shape[:-1], m), dtype=np.float64)
        for r0 in range(0, n, _CAUSAL_BLOCK):
            r1 = min(n, r0 + _CAUSAL_BLOCK)
            c1 = int(prefix[r1 - 1])
            out[..., r0:r1, :c1] = np.matmul(a_t[..., r0:r1, :], b_t[:c1].T)
    if shift:
        out *= float(2**shift)
    return out


@dataclass(frozen=True, eq=False)
class _GroupResult:
    probs: np.ndarray  #: [b, nq, nk] final fixed-point probabilities
    requant: np.ndarray  #: bool [b, nq]
    keep: np.ndarray  #: bool [b, nq, nk] V rows kept (local V)
    v_kept: np.ndarray  #: int32 [b, nq]
    topk_cycles: np.ndarray  #: int64 [b, nq]
    out: np.ndarray  #: float64 [b, nq, d] attention output


def _attend_group(
    pol: _Policy,
    eng: _Engine,
    progressive: bool,
    local_v: float | None,
    q_code: np.ndarray,  # int32 [b, nq, d]
    k_code: np.ndarray,  # int32 [nk, d]
    v_code: np.ndarray,  # int32 [nk, d]
    factor: np.ndarray,  # float64 [b]
    v_scale: float,
    bias: np.ndarray | None,  # [b, nq, nk]
    kpq: np.ndarray,  # int [nq] visible keys per query (a prefix of the keys)
    causal_prefix: bool,
) -> _GroupResult:
    """QxK, softmax, progressive decision, local-V top-k and probxV for the query heads of one
    K/V group (they share ``k_code``/``v_code``)."""
    b, nq, _ = q_code.shape
    nk = k_code.shape[0]
    wb = pol.word_bits
    prefix = kpq if causal_prefix else None  # row i sees keys 0 .. kpq[i] - 1
    lengths = np.broadcast_to(kpq[None, :], (b, nq)).reshape(-1)
    fac_rows = np.repeat(factor, nq)
    bias_rows = bias.reshape(b * nq, nk) if bias is not None else None
    if progressive:
        lq, lk = pol.q.lsb_bits, pol.k.lsb_bits
        qm = np.right_shift(q_code, lq) if lq else q_code
        km = np.right_shift(k_code, lk) if lk else k_code
        s = exact_int_matmul(qm, km, lq + lk, prefix).reshape(b * nq, nk)
        probs, rowmax = softmax_fixed(s, fac_rows, bias_rows, lengths, wb)
        req_rows = rowmax < pol.threshold
        if req_rows.any():
            ri = np.flatnonzero(req_rows)
            s2 = exact_int_matmul(q_code.reshape(b * nq, -1)[ri], k_code)  # [n_req, nk]
            b2 = bias_rows[ri] if bias_rows is not None else None
            probs[ri] = softmax_fixed(s2, fac_rows[ri], b2, lengths[ri], wb)[0]
        requant = req_rows.reshape(b, nq)
    else:
        s = exact_int_matmul(q_code, k_code, 0, prefix).reshape(b * nq, nk)
        probs = softmax_fixed(s, fac_rows, bias_rows, lengths, wb)[0]
        requant = np.zeros((b, nq), dtype=bool)
    probs = probs.reshape(b, nq, nk)

    kpq_rows = lengths
    if local_v is not None:
        ks = sched.keep_counts(kpq, local_v)  # per query
        ks_rows = np.broadcast_to(ks[None, :], (b, nq)).reshape(-1)
        keep2, cyc = eng.rows(probs.reshape(b * nq, nk), kpq_rows, ks_rows, streamed=True)
        keep = keep2.reshape(b, nq, nk)
        v_kept = ks_rows.reshape(b, nq).astype(np.int32)
        topk_cycles = cyc.reshape(b, nq).astype(np.int64)
        pk = probs * keep
    else:
        keep = np.broadcast_to(
            (np.arange(nk)[None, :] < kpq[:, None])[None] if causal_prefix else True, (b, nq, nk)
        )
        v_kept = np.broadcast_to(kpq[None, :], (b, nq)).astype(np.int32)
        topk_cycles = np.zeros((b, nq), dtype=np.int64)
        pk = probs
    vfull = v_code.astype(np.float64) * v_scale
    if progressive and pol.v.lsb_bits:
        vm = _msb(v_code, pol.v.lsb_bits).astype(np.float64) * v_scale
        out = np.matmul(pk, vm)
        if requant.any():
            bi, qi = np.nonzero(requant)
            out[bi, qi] = pk[bi, qi] @ vfull
    else:
        out = np.matmul(pk, vfull)
    return _GroupResult(probs, requant, keep, v_kept, topk_cycles, out)


# ---------------------------------------------------------------------------------------------
@dataclass
class _State:
    """Mutable state of one run (local to :func:`build_workload`)."""

    s_tok: np.ndarray  #: float64 [T] cumulative token importance, in probability codes (exact)
    n_tok: np.ndarray  #: float64 [T] (head, query) probabilities added into s_tok per token
    s_layer: np.ndarray  #: float64 [n_layers, T] s_tok accumulated per layer (h2o)
    n_layer: np.ndarray  #: float64 [n_layers, T] n_tok per layer
    s_head: np.ndarray  #: float64 [H] cumulative head importance
    alive_tok: np.ndarray  #: bool [n_layers, T] survivors of each layer in the last pass
    alive_head: np.ndarray  #: bool [n_layers, H]
    d_tok: np.ndarray  #: float64 [T] dense-reference cumulative token importance


class FunctionalBuilder:
    """One run of the functional phase over a trace: :meth:`run` does it all; a caller that
    supplies Q/K/V as they are computed (the accuracy run) calls :meth:`quantize_all` with
    calibrated scales, then steps :meth:`pass_layers` and :meth:`quantize_rows` itself and
    finishes with :func:`functional_result`."""

    def __init__(
        self,
        trace: Trace,
        cfg: HwConfig,
        progress: Callable[[str], None] | None,
        keep_outputs: bool = False,
        scales: tuple[LayerScales, ...] | None = None,
        fidelity: bool = True,
        dense_cache: DenseCache | None = None,
    ):
        m = trace.meta
        if scales is not None and len(scales) != m.n_layers:
            raise ValueError(f"{len(scales)} layer scales for {m.n_layers} layers")
        if dense_cache is not None and dense_cache.trace is not trace:
            raise ValueError("the dense cache serves another trace")
        self.scales = scales
        self.with_fidelity = fidelity
        #: keeps the dense reference's blocks for later runs of this trace (sweeps)
        self.dense_cache = dense_cache
        self.trace = trace
        self.m = m
        self.pol = _policy(cfg, m.n_layers)
        token_policy.check_trace(cfg.policy.token_pruning, m.generated_tokens)
        self.eng = _Engine(
            cfg.topk.comparators, cfg.topk.round_overhead_cycles, cfg.policy.topk_seed
        )
        self.progress = progress
        self.group = trace.group_size
        T, H = m.tokens, m.n_heads
        self.state = _State(
            s_tok=np.zeros(T),
            n_tok=np.zeros(T),
            s_layer=np.zeros((m.n_layers, T)),
            n_layer=np.zeros((m.n_layers, T)),
            s_head=np.zeros(H),
            alive_tok=np.zeros((m.n_layers, T), dtype=bool),
            alive_head=np.ones((m.n_layers, H), dtype=bool),
            d_tok=np.zeros(T),
        )
        self.state.alive_tok[:, : m.prompt_tokens] = True
        self.layers: list[dict] = []
        self.fid = FidelityAccumulator()
        #: per layer, the dense fidelity reference of the current block of generation rows
        self._dense: dict[int, DenseRows] = {}
        self.data: list[_LayerData] = []
        self.outputs: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] | None = (
            {} if keep_outputs else None
        )
        self.stats = {"token_topk_calls": 0, "head_topk_calls": 0, "head_topk_dropped": 0}

    # -- pruning decisions -------------------------------------------------------------------
    def _token_decision(
        self, layer: int, cand: np.ndarray, n_ctx: int, protect: int | None
    ) -> tuple[np.ndarray, TopkCall | None]:
        """The tokens ``layer`` keeps (:func:`token_policy.decide`). ``cand``: the survivors of
        the previous layer of this pass that survived this layer in the previous pass;
        ``protect``: the current token in generation. The KV-cache kinds decide in generation
        on the layer's own cache instead (its survivors of the previous pass plus the current
        token, whatever the layer before kept)."""
        tok, st = self.pol.tok, self.state
        if tok.kind != "cascade" and protect is not None and tok.acts(layer, True):
            cand = st.alive_tok[layer].copy()
            cand[protect] = True
        scores, counts = (
            (st.s_layer[layer], st.n_layer[layer]) if tok.scope == "layer" else (st.s_tok, st.n_tok)
        )
        out, call = token_policy.decide(
            tok, self.eng.one, layer, cand, n_ctx, protect, scores, counts
        )
        if call is not None:
            self.stats["token_topk_calls"] += 1
        return out, call

    def _head_decision(self, layer: int, cand: np.ndarray) -> tuple[np.ndarray, TopkCall | None]:
        r = self.pol.head_ratios[layer]
        if r is None:
            return cand, None
        s = self.state.s_head
        if self.pol.kv_group_pruning:
            g = self.group
            gcand = cand.reshape(-1, g).any(axis=1)
            gids = np.flatnonzero(gcand)
            k = sched.keep_count(gcand.size, r)
            if k >= gids.size:
                return cand, None
            gscore = np.where(cand, s, 0.0).reshape(-1, g).sum(axis=1)
            kept, cycles = self.eng.one(gscore[gids], k)
            gkeep = np.zeros_like(gcand)
            gkeep[gids[kept]] = True
            out = cand & np.repeat(gkeep, g)
            return out, TopkCall(int(gids.size), int(k), cycles)
        ids = np.flatnonzero(cand)
        k = sched.keep_count(cand.size, r)
        if k >= ids.size:
            return cand, None
        kept, cycles = self.eng.one(s[ids], k)
        out = np.zeros_like(cand)
        out[ids[kept]] = True
        return out, TopkCall(int(ids.size), int(k), cycles)

    # -- one pass over the layers (summarization, or one generation iteration) ---------------
    def run_pass(self, stage: Stage, iteration: int) -> None:
        for _ in self.pass_layers(stage, iteration):
            pass

    def pass_layers(self, stage: Stage, iteration: int) -> Iterator[int]:
        """One pass, a layer at a time: computes each layer (decisions, attention, importance)
        and then yields its index, so a caller may supply the next layer's Q/K/V in between
        (the accuracy run feeds the model's own values layer by layer)."""
        m = self.m
        P = m.prompt_tokens
        st = self.state
        gen = stage == "generation"
        t = P + iteration - 1 if gen else None
        n_ctx = P + iteration if gen else P
        prev_tok: np.ndarray | None = None
        prev_head: np.ndarray | None = None
        for layer in range(m.n_layers):
            cand = st.alive_tok[layer].copy()
            if gen:
                cand[t] = True
            if prev_tok is not None:
                cand &= prev_tok
            cand, tok_call = self._token_decision(layer, cand, n_ctx, t)
            st.alive_tok[layer] = cand
            prev_tok = cand
            hcand = st.alive_head[layer].copy()
            if prev_head is not None:
                hcand &= prev_head
            hcand, head_call = self._head_decision(layer, hcand)
            if head_call is not None:
                self.stats["head_topk_calls"] += 1
                if self.layers:
                    self.layers[-1]["head_topk"] = head_call
                else:
                    self.stats["head_topk_dropped"] += 1
            st.alive_head[layer] = hcand
            prev_head = hcand
            self._run_layer(stage, iteration, layer, cand, hcand, tok_call, n_ctx, t)
            yield layer

    def _run_layer(
        self,
        stage: Stage,
        iteration: int,
        layer: int,
        alive: np.ndarray,
        heads_alive: np.ndarray,
        tok_call: TopkCall | None,
        n_ctx: int,
        t: int | None,
    ) -> None:
        m, pol, st, trace = self.m, self.pol, self.state, self.trace
        gen = stage == "generation"
        data = self.data[layer]
        key_ids = np.flatnonzero(alive).astype(np.int32)
        nk = key_ids.size
        if gen:
            query_ids = np.array([t], dtype=np.int32)
            kpq = np.array([nk], dtype=np.int32)
            causal_prefix = False
        else:
            query_ids = key_ids
            kpq = (
                np.arange(1, nk + 1, dtype=np.int32)
                if m.causal
                else np.full(nk, nk, dtype=np.int32)
            )
            causal_prefix = m.causal
        nq = query_ids.size
        progressive = pol.progressive_for(stage)
        bits = pol.bits_for(stage)
        bias_l = trace.layer_bias(layer)
        H, d = m.n_heads, m.head_dim
        g = self.group
        out_hw = np.zeros((H, nq, d))
        heads: list[HeadJob] = []
        tok_imp = np.zeros(nk)  #: integer probability codes (exact in float64 below 2**53)
        for kv in range(m.n_kv_heads):
            hs = [h for h in range(kv * g, (kv + 1) * g) if heads_alive[h]]
            if not hs:
                continue
            hs_a = np.array(hs)
            q_code = data.q_code[hs_a[:, None], query_ids[None, :]]
            factor = data.q_scale[hs_a] * data.k_scale[kv] * m.softmax_scale
            bias = bias_l[np.ix_(hs_a, query_ids, key_ids)] if bias_l is not None else None
            res = _attend_group(
                pol,
                self.eng,
                progressive,
                pol.local_v_for(stage),
                q_code,
                data.k_code[kv, key_ids],
                data.v_code[kv, key_ids],
                factor,
                float(data.v_scale[kv]),
                bias,
                kpq,
                causal_prefix,
            )
            out_hw[hs_a] = res.out
            # the importance accumulators add the probabilities' integer codes (code/levels on
            # the word_bits grid): exact, so tokens of equal importance tie exactly and the
            # top-k engine's own rule (earliest in the stream) breaks the tie, not float noise
            tok_imp += probability_code_sums(
                res.probs.reshape(-1, nk),
                np.broadcast_to(kpq[None, :], (len(hs), nq)).reshape(-1),
                pol.word_bits,
            )
            st.s_head[hs_a] += np.abs(res.out).sum(axis=(1, 2))
            heads += self._head_jobs(
                stage, iteration, layer, kv, hs, res, query_ids, key_ids, kpq, bits, progressive
            )
        st.s_tok[key_ids] += tok_imp
        seen = token_policy.seen_counts(kpq, nk) * float(heads_alive.sum())
        st.n_tok[key_ids] += seen
        st.s_layer[layer, key_ids] += tok_imp
        st.n_layer[layer, key_ids] += seen
        self.layers.append(
            {
                "stage": stage,
                "iteration": iteration,
                "layer": layer,
                "heads": tuple(heads),
                "tokens_kept": int(nk),
                "tokens_total": int(n_ctx),
                "heads_kept": int(heads_alive.sum()),
                "token_topk": tok_call,
                "head_topk": None,
            }
        )
        if self.outputs is not None:
            self.outputs[(stage, iteration, layer)] = (query_ids, out_hw)
        if self.with_fidelity:
            self._fidelity(stage, layer, query_ids, key_ids, out_hw, n_ctx)

    def _head_jobs(
        self,
        stage: Stage,
        iteration: int,
        layer: int,
        kv: int,
        hs: list[int],
        res: _GroupResult,
        query_ids: np.ndarray,
        key_ids: np.ndarray,
        kpq: np.ndarray,
        bits: Bits,
        progressive: bool,
    ) -> list[HeadJob]:
        pol = self.pol
        gen = stage == "generation"
        jobs = []
        lsb_done = False
        v_done = np.zeros(key_ids.size, dtype=bool)
        vl_done = np.zeros(key_ids.size, dtype=bool)
        for i, h in enumerate(hs):
            first = i == 0
            req = res.requant[i]
            any_req = bool(req.any())
            k_lsb = _EMPTY
            v_lsb = _EMPTY
            q_lsb = _EMPTY
            if progressive and any_req:
                if not lsb_done and pol.k.lsb_bits:
                    k_lsb = key_ids
                if pol.q.lsb_bits:
                    q_lsb = query_ids[req]
                if pol.v.lsb_bits:
                    if gen:
                        used = res.keep[i].any(axis=0) & ~vl_done
                        v_lsb = key_ids[used]
                        vl_done |= used
                    elif not lsb_done:
                        v_lsb = key_ids
                lsb_done = True
            if gen:
                used = res.keep[i].any(axis=0) & ~v_done
                v_fetch = key_ids[used]
                v_done |= used
            else:
                v_fetch = key_ids if first else _EMPTY
            jobs.append(
                HeadJob(
                    stage=stage,
                    iteration=iteration,
                    layer=layer,
                    head=int(h),
                    kv_head=int(kv),
                    head_dim=self.m.head_dim,
                    bits=bits,
                    query_ids=query_ids,
                    n_keys=int(key_ids.size),
                    keys_per_query=kpq,
                    requant=req.copy(),
                    v_kept=res.v_kept[i].copy(),
                    local_topk_cycles=res.topk_cycles[i].copy(),
                    q_fetch=query_ids,
                    k_msb_fetch=key_ids if first else _EMPTY,
                    k_lsb_fetch=k_lsb,
                    v_fetch=v_fetch.astype(np.int32),
                    q_lsb_fetch=q_lsb.astype(np.int32),
                    v_lsb_fetch=v_lsb.astype(np.int32),
                )
            )
        return jobs

    def _fidelity(
        self,
        stage: str,
        layer: int,
        query_ids: np.ndarray,
        key_ids: np.ndarray,
        out_hw: np.ndarray,
        n_ctx: int,
    ) -> None:
        st, P = self.state, self.m.prompt_tokens
        # the dense reference (algo/fidelity.py): every head; in summarization every prompt
        # token is a query (for the dense cumulative importance), the surviving ones are
        # compared; generation rows are computed a block of iterations at a time per layer
        if stage == "generation":
            ref = self._dense.get(layer)
            row = int(query_ids[0])
            if ref is None or not ref.start <= row < ref.start + ref.out.shape[1]:
                stop = min(row + _DENSE_BLOCK, self.m.tokens)
                ref = self._dense[layer] = self._dense_rows(layer, row, stop, False)
            i = row - ref.start
            ref_out = ref.out[:, i : i + 1]
            add = ref.importance[i, :n_ctx]
        else:
            ref = self._dense_rows(layer, 0, P, True)
            ref_out = ref.out[:, query_ids]
            add = ref.importance
        self.fid.add_output(stage, layer, out_hw, ref_out)
        before = st.d_tok.copy()
        st.d_tok[:n_ctx] += add
        cand = np.arange(n_ctx)
        ov = topk_overlap(key_ids, before, cand)
        rho = spearman(st.s_tok[:n_ctx], st.d_tok[:n_ctx])
        self.fid.add_importance(stage, layer, rho, ov)

    def _dense_rows(self, layer: int, start: int, stop: int, summed: bool) -> DenseRows:
        if self.dense_cache is not None:
            return self.dense_cache.rows(layer, start, stop, summed)
        return dense_rows(self.trace, layer, start, stop, summed)

    # -- the whole run -----------------------------------------------------------------------
    def quantize_all(self) -> None:
        """The fixed-point codes of every layer (scales calibrated on the trace unless given)."""
        for layer in range(self.m.n_layers):
            sc = None if self.scales is None else self.scales[layer]
            self.data.append(_quantize_layer(self.trace, layer, self.pol, sc))

    def quantize_rows(self, layer: int, rows: slice) -> None:
        """Re-quantize tokens ``rows`` of ``layer`` after the caller wrote them into the trace
        (fixed scales: :meth:`quantize_all` must have run, with scales given)."""
        if self.scales is None:
            raise ValueError("rows can be quantized one at a time only with calibrated scales")
        if self.with_fidelity:  # its dense reference reads blocks of rows ahead (_fidelity)
            raise ValueError("rows can be quantized one at a time only without fidelity")
        _quantize_rows(self.trace, layer, self.pol, self.data[layer], rows)

    def run(self) -> None:
        m = self.m
        t0 = time.perf_counter()
        self.quantize_all()
        self.run_pass("summarization", 0)
        if self.progress:
            self.progress(f"functional: summarization done ({time.perf_counter() - t0:.1f} s)")
        for it in range(1, m.generated_tokens + 1):
            self.run_pass("generation", it)
            if self.progress and (it % 8 == 0 or it == m.generated_tokens):
                self.progress(
                    f"functional: generation {it}/{m.generated_tokens} "
                    f"({time.perf_counter() - t0:.1f} s)"
                )


@dataclass(frozen=True, eq=False)
class FunctionalResult:
    """The workload and, on request, the attention outputs the hardware computed."""

    workload: Workload
    #: (stage, iteration, layer) -> (query ids [nq], outputs float64 [n_heads, nq, head_dim]);
    #: a pruned head's output is zero. Empty unless ``keep_outputs``.
    outputs: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]]


def build_workload(
    trace: Trace,
    cfg: HwConfig,
    *,
    source: str = "",
    progress: Callable[[str], None] | None = None,
    dense_cache: DenseCache | None = None,
) -> Workload:
    """Run ``trace`` through SpAtten's algorithm under ``cfg.policy`` (see the module docstring)
    and return the workload with per-layer fidelity. Deterministic: the same trace and config give
    an identical workload. ``dense_cache`` (of this trace) keeps the fidelity's dense reference
    for later runs of the trace (:class:`~spatten_sim.algo.fidelity.DenseCache`; the same
    result)."""
    return run_functional(
        trace, cfg, source=source, progress=progress, dense_cache=dense_cache
    ).workload


def run_functional(
    trace: Trace,
    cfg: HwConfig,
    *,
    source: str = "",
    progress: Callable[[str], None] | None = None,
    keep_outputs: bool = False,
    scales: tuple[LayerScales, ...] | None = None,
    fidelity: bool = True,
    dense_cache: DenseCache | None = None,
) -> FunctionalResult:
    """:func:`build_workload`, optionally keeping every layer's attention outputs, with given
    quantization ``scales`` (default: calibrated on the trace) and without the dense fidelity
    reference when ``fidelity`` is false (the workload's ``fidelity`` is then empty)."""
    b = FunctionalBuilder(
        trace, cfg, progress, keep_outputs, scales=scales, fidelity=fidelity,
        dense_cache=dense_cache,
    )  # fmt: skip
    with single_threaded_blas():
        b.run()
    return functional_result(b, cfg, source=source)


def functional_result(b: FunctionalBuilder, cfg: HwConfig, *, source: str = "") -> FunctionalResult:
    """The workload (and kept outputs) of a finished :class:`FunctionalBuilder`."""
    m = b.m
    layers = tuple(LayerJob(**d) for d in b.layers)
    pol = b.pol
    notes = {
        "functional": "spatten_sim.algo.functional (data-driven)",
        "token_pruning_layers": [i for i, r in enumerate(pol.tok_ratios) if r is not None],
        "token_keep_ratios": [r for r in pol.tok_ratios],
        "head_pruning_layers": [i for i, r in enumerate(pol.head_ratios) if r is not None],
        "head_keep_ratios": [r for r in pol.head_ratios],
        "head_pruning_granularity": cfg.policy.head_pruning_granularity,
        "local_v_keep_ratio": pol.local_v,
        "progressive_summarization": pol.progressive_for("summarization"),
        "progressive_generation": pol.progressive_for("generation"),
        "quantization_scale": "per tensor: per (layer, query head) for Q, per (layer, K/V head) "
        "for K and V, "
        + (
            "from max |x| over the trace's tokens"
            if b.scales is None
            else "calibrated beforehand (values beyond the range saturate)"
        ),
        "generation_current_token": "always kept in its own iteration",
        **b.stats,
    }
    wl = Workload(
        source=source,
        model=m.model,
        n_layers=m.n_layers,
        n_heads=m.n_heads,
        n_kv_heads=m.n_kv_heads,
        head_dim=m.head_dim,
        causal=m.causal,
        prompt_tokens=m.prompt_tokens,
        generated_tokens=m.generated_tokens,
        layers=layers,
        dense_ops=dense_attention_ops(
            m.n_heads, m.head_dim, m.n_layers, m.prompt_tokens, m.generated_tokens, m.causal
        ),
        fidelity=b.fid.result(),
        notes=notes,
    )
    return FunctionalResult(wl, b.outputs or {})
