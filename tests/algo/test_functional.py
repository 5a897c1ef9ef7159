"""The functional phase: SpAtten's decisions made from the trace's data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spatten_sim.algo.functional import build_workload, run_functional
from spatten_sim.config import load_config
from spatten_sim.trace import Trace, synthetic_trace

IDEAL = ["memory.preset=ideal"]
WIDE = [
    "buffers.word_bits=32",
    "policy.quantization.q_msb_bits=32",
    "policy.quantization.k_msb_bits=32",
    "policy.quantization.v_msb_bits=32",
]
TOKEN = [
    "policy.token_pruning.enabled=true",
    "policy.token_pruning.unpruned_layers_fraction=0.25",
    "policy.token_pruning.start_keep_ratio=0.8",
    "policy.token_pruning.end_keep_ratio=0.3",
]
HEAD = [
    "policy.head_pruning.enabled=true",
    "policy.head_pruning.unpruned_layers_fraction=0.25",
    "policy.head_pruning.start_keep_ratio=0.75",
    "policy.head_pruning.end_keep_ratio=0.5",
]
LOCALV = [
    "policy.local_v_pruning.enabled=true",
    "policy.local_v_pruning.keep_ratio=0.25",
    "policy.local_v_pruning.in_summarization=true",
]


def prog(threshold: float, in_summ: bool = False) -> list[str]:
    return [
        "policy.quantization.k_msb_bits=6",
        "policy.quantization.k_lsb_bits=4",
        "policy.progressive_quantization.enabled=true",
        f"policy.progressive_quantization.threshold={threshold}",
        f"policy.progressive_quantization.in_summarization={str(in_summ).lower()}",
    ]


def cfg(*sets: list[str]):
    return load_config("dense", [*IDEAL, *(s for group in sets for s in group)])


@pytest.fixture(scope="module")
def enc() -> Trace:
    return synthetic_trace(n_layers=4, n_heads=4, tokens=48, seed=3, concentration=2.0)


@pytest.fixture(scope="module")
def dec() -> Trace:
    return synthetic_trace(
        n_layers=4, n_heads=4, n_kv_heads=2, tokens=56, generated_tokens=6, seed=5
    )


def numpy_attention(trace: Trace, layer: int) -> np.ndarray:
    """Dense float64 attention outputs [H, T, D] written independently of the package."""
    m = trace.meta
    g = m.n_heads // m.n_kv_heads
    q = trace.q[layer].astype(np.float64)
    k = np.repeat(trace.k[layer].astype(np.float64), g, axis=0)
    v = np.repeat(trace.v[layer].astype(np.float64), g, axis=0)
    s = q @ k.transpose(0, 2, 1) * m.softmax_scale
    if m.causal:
        s = np.where(np.tril(np.ones((m.tokens, m.tokens), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p @ v


def key_sets(wl, stage=None):
    """(stage, iteration, layer) -> surviving key ids (the K fetched for the groups)."""
    out = {}
    for lj in wl.layers:
        if stage and lj.stage != stage:
            continue
        ids = np.unique(np.concatenate([h.k_msb_fetch for h in lj.heads]))
        out[(lj.iteration, lj.layer)] = set(ids.tolist())
    return out


@pytest.mark.parametrize("which", ["enc", "dec"])
def test_wide_words_everything_off_equals_numpy_dense(which, request):
    trace = request.getfixturevalue(which)
    res = run_functional(trace, cfg(WIDE), keep_outputs=True)
    m = trace.meta
    for layer in range(m.n_layers):
        ref = numpy_attention(trace, layer)
        qids, out = res.outputs[("summarization", 0, layer)]
        assert np.array_equal(qids, np.arange(m.prompt_tokens))
        np.testing.assert_allclose(out, ref[:, : m.prompt_tokens], rtol=1e-4, atol=1e-5)
        for it in range(1, m.generated_tokens + 1):
            qids, out = res.outputs[("generation", it, layer)]
            t = m.prompt_tokens + it - 1
            assert qids.tolist() == [t]
            np.testing.assert_allclose(out[:, 0], ref[:, t], rtol=1e-4, atol=1e-5)
    assert res.workload.fidelity["output_rel_error_max"] < 1e-5


def test_causal_mask_future_keys_do_not_matter(dec):
    m = dec.meta
    base = run_functional(dec, cfg(WIDE), keep_outputs=True)
    k = dec.k.copy()
    v = dec.v.copy()
    # the last token's key and value change (negated and reversed: the per-tensor scales, from
    # max |x|, stay the same)...
    k[:, :, -1] = -k[:, :, -1, ::-1]
    v[:, :, -1] = -v[:, :, -1, ::-1]
    changed = Trace(meta=m, q=dec.q, k=k, v=v)
    other = run_functional(changed, cfg(WIDE), keep_outputs=True)
    for layer in range(m.n_layers):
        a = base.outputs[("summarization", 0, layer)][1]
        b = other.outputs[("summarization", 0, layer)][1]
        np.testing.assert_array_equal(a, b)  # ...which no prompt query may see
    for h in base.workload.head_jobs():
        if h.stage == "summarization":
            assert h.keys_per_query.tolist() == list(range(1, h.n_queries + 1))


def test_encoder_queries_see_all_keys(enc):
    wl = build_workload(enc, cfg())
    for h in wl.head_jobs():
        assert np.all(h.keys_per_query == h.n_keys)
        assert h.n_queries == h.n_keys == enc.meta.tokens


def test_everything_off_keeps_everything_and_fidelity_near_zero(dec):
    wl = build_workload(dec, cfg())
    m = dec.meta
    for lj in wl.layers:
        assert lj.tokens_kept == lj.tokens_total
        assert lj.heads_kept == m.n_heads
        assert lj.token_topk is None and lj.head_topk is None
    for h in wl.head_jobs():
        assert np.array_equal(h.v_kept, h.keys_per_query)
        assert not h.requant.any() and h.k_lsb_fetch.size == 0
        assert np.all(h.local_topk_cycles == 0)
        assert h.bits.k_msb == 12 and h.bits.k_lsb == 0
    assert wl.fidelity["output_rel_error_max"] < 0.01
    assert wl.fidelity["importance_topk_overlap_min"] == 1.0
    assert wl.fidelity["importance_spearman_min"] > 0.99
    assert len(wl.layers) == m.n_layers * (1 + m.generated_tokens)


def test_token_pruning_alone_prunes_by_schedule_and_never_restores(dec):
    wl = build_workload(dec, cfg(TOKEN))
    m = dec.meta
    summ = [lj for lj in wl.layers if lj.stage == "summarization"]
    # first 25% (1 layer) unpruned, then ceil(L * r) with r from 0.8 to 0.3
    assert summ[0].tokens_kept == m.prompt_tokens and summ[0].token_topk is None
    ratios = [0.8, 0.55, 0.3]
    for lj, r in zip(summ[1:], ratios, strict=True):
        assert lj.tokens_kept == int(np.ceil(m.prompt_tokens * r))
        assert lj.token_topk is not None and lj.token_topk.k == lj.tokens_kept
        assert lj.token_topk.cycles > 0
    keys = key_sets(wl)
    for (it, layer), ids in keys.items():
        if layer > 0:  # cascade within a pass
            assert ids <= keys[(it, layer - 1)]
        if it > 0:  # across passes: only the new token may join
            new = m.prompt_tokens + it - 1
            assert ids - {new} <= keys[(it - 1, layer)]
            assert new in ids  # the current token is always kept in its own iteration
    # queries in summarization are the survivors
    for h in wl.head_jobs():
        if h.stage == "summarization":
            assert np.array_equal(h.query_ids, np.array(sorted(keys[(0, h.layer)])))
    assert all(h.heads_kept == m.n_heads for h in wl.layers)


def test_head_pruning_alone_and_never_restores(dec):
    wl = build_workload(dec, cfg(HEAD))
    m = dec.meta
    heads = {}
    for lj in wl.layers:
        hs = {h.head for h in lj.heads}
        assert len(hs) == lj.heads_kept
        heads[(lj.iteration, lj.layer)] = hs
        assert lj.tokens_kept == lj.tokens_total
    assert heads[(0, 0)] == set(range(m.n_heads))
    assert len(heads[(0, 3)]) == 2  # ceil(4 * 0.5)
    for (it, layer), hs in heads.items():
        if layer > 0:
            assert hs <= heads[(it, layer - 1)]
        if it > 0:
            assert hs <= heads[(it - 1, layer)]
    # the head top-k decided after the previous layer
    summ = [lj for lj in wl.layers if lj.stage == "summarization"]
    for prev, nxt in itertools.pairwise(summ):
        if nxt.heads_kept < prev.heads_kept:
            assert prev.head_topk is not None and prev.head_topk.k == nxt.heads_kept


def test_kv_group_head_pruning_removes_whole_groups(dec):
    wl = build_workload(dec, cfg(HEAD, ["policy.head_pruning_granularity=kv_group"]))
    g = dec.meta.n_heads // dec.meta.n_kv_heads
    pruned_any = False
    for lj in wl.layers:
        hs = sorted(h.head for h in lj.heads)
        groups = {h // g for h in hs}
        assert len(hs) == g * len(groups)
        pruned_any |= len(groups) < dec.meta.n_kv_heads
    assert pruned_any


def test_local_v_applies_in_summarization_only_when_asked(dec):
    gen_only = build_workload(dec, cfg(LOCALV[:2]))
    for h in gen_only.head_jobs():
        if h.stage == "summarization":
            assert np.array_equal(h.v_kept, h.keys_per_query)
            assert not h.local_topk_cycles.any()
        else:
            assert np.array_equal(h.v_kept, np.ceil(h.keys_per_query * 0.25 - 1e-9).astype(int))


def test_local_v_engine_charges_the_official_select_cycles():
    from spatten_sim.algo.functional import _Engine
    from spatten_sim.algo.topk import topk_rows_detail

    rng = np.random.default_rng(3)
    vals = rng.random((5, 300)).astype(np.float32)
    lengths = np.array([300, 250, 200, 120, 17])
    ks = np.array([75, 60, 50, 30, 5])
    eng = _Engine(comparators=16, overhead=3, seed=0)
    ref = topk_rows_detail(vals, lengths, ks, comparators=16, seed=0, round_overhead_cycles=3)
    keep_s, streamed = eng.rows(vals, lengths, ks, streamed=True)
    keep_f, full = eng.rows(vals, lengths, ks)
    assert np.array_equal(keep_s, ref.keep_mask) and np.array_equal(keep_f, ref.keep_mask)
    # on the softmax -> probxV stream only the rounds occupy the engine (official model);
    # a standalone token/head top-k also pays the fill and filter passes
    assert np.array_equal(streamed, ref.select_cycles)
    assert np.array_equal(full, ref.fill_cycles + ref.select_cycles + ref.filter_cycles)


def test_local_v_alone_keeps_the_ratio(dec):
    wl = build_workload(dec, cfg(LOCALV))
    for h in wl.head_jobs():
        assert np.array_equal(h.v_kept, np.ceil(h.keys_per_query * 0.25 - 1e-9).astype(int))
        drops = h.v_kept < h.keys_per_query  # k >= n runs no quick-select round
        assert np.all(h.local_topk_cycles[drops] > 0)
        assert not h.local_topk_cycles[~drops].any()
        if h.stage == "generation":
            # V rows fetched for the group are those kept, each once
            assert h.v_fetch.size <= h.n_keys
    for lj in wl.layers:
        if lj.stage == "generation":
            for kv in range(dec.meta.n_kv_heads):
                fetched = np.concatenate([h.v_fetch for h in lj.heads if h.kv_head == kv])
                assert fetched.size == np.unique(fetched).size
                assert fetched.size >= max(int(h.v_kept[0]) for h in lj.heads if h.kv_head == kv)
    off = build_workload(dec, cfg())
    assert wl.fidelity["output_rel_error_mean"] > off.fidelity["output_rel_error_mean"]


def test_lsb_refetch_fraction_rises_with_threshold(dec):
    fracs = []
    for th in (0.0, 0.05, 0.2, 0.5, 1.0):
        wl = build_workload(dec, cfg(prog(th)))
        gen = [h for h in wl.head_jobs() if h.stage == "generation"]
        summ = [h for h in wl.head_jobs() if h.stage == "summarization"]
        assert not any(h.requant.any() for h in summ)  # not in summarization by default
        assert all(h.bits.k_msb == 10 and h.bits.k_lsb == 0 for h in summ)  # static 6+4
        assert all(h.bits.k_msb == 6 and h.bits.k_lsb == 4 for h in gen)
        for h in gen:
            assert h.k_lsb_fetch.size in (0, h.n_keys)
        fracs.append(np.mean([h.requant[0] for h in gen]))
    assert fracs[0] == 0.0 and fracs[-1] == 1.0
    assert all(a <= b for a, b in itertools.pairwise(fracs))
    assert fracs[-1] > fracs[1]


def test_requant_in_summarization_fetches_lsbs_once_per_group(dec):
    wl = build_workload(dec, cfg(prog(0.3, in_summ=True)))
    seen = 0
    for lj in wl.layers:
        if lj.stage != "summarization":
            continue
        for kv in range(dec.meta.n_kv_heads):
            hs = [h for h in lj.heads if h.kv_head == kv]
            with_req = [h for h in hs if h.requant.any()]
            lsb = [h for h in hs if h.k_lsb_fetch.size]
            if with_req:
                seen += 1
                assert len(lsb) == 1 and lsb[0] is with_req[0]
                assert lsb[0].k_lsb_fetch.size == lsb[0].n_keys
            else:
                assert not lsb
    assert seen > 0


def test_gqa_keys_fetched_once_per_group(dec):
    wl = build_workload(dec, cfg(TOKEN, LOCALV))
    g = dec.meta.n_heads // dec.meta.n_kv_heads
    for lj in wl.layers:
        for kv in range(dec.meta.n_kv_heads):
            hs = [h for h in lj.heads if h.kv_head == kv]
            assert [h.head // g for h in hs] == [kv] * len(hs)
            assert hs[0].k_msb_fetch.size == hs[0].n_keys
            assert all(h.k_msb_fetch.size == 0 for h in hs[1:])
            if lj.stage == "summarization":
                assert hs[0].v_fetch.size == hs[0].n_keys
                assert all(h.v_fetch.size == 0 for h in hs[1:])
            for h in hs:
                assert np.array_equal(h.q_fetch, h.query_ids)


def test_deterministic(dec):
    sets = (TOKEN, HEAD, LOCALV, prog(0.2))
    a = build_workload(dec, cfg(*sets))
    b = build_workload(dec, cfg(*sets))
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.tokens_kept, la.heads_kept, la.token_topk, la.head_topk) == (
            lb.tokens_kept,
            lb.heads_kept,
            lb.token_topk,
            lb.head_topk,
        )
        for ha, hb in zip(la.heads, lb.heads, strict=True):
            for f in ("query_ids", "requant", "v_kept", "local_topk_cycles", "k_msb_fetch"):
                assert np.array_equal(getattr(ha, f), getattr(hb, f))
            assert np.array_equal(ha.v_fetch, hb.v_fetch)
    assert a.fidelity == b.fidelity


def test_fidelity_grows_with_pruning(enc):
    errs = []
    for end in (1.0, 0.6, 0.2):
        wl = build_workload(
            enc,
            cfg(
                [
                    "policy.token_pruning.enabled=true",
                    "policy.token_pruning.unpruned_layers_fraction=0.0",
                    f"policy.token_pruning.start_keep_ratio={end}",
                    f"policy.token_pruning.end_keep_ratio={end}",
                ]
            ),
        )
        errs.append(wl.fidelity["output_rel_error_mean"])
        per = wl.fidelity["per_layer"]
        assert len(per) == enc.meta.n_layers
    assert errs[0] < 0.01 < errs[1] < errs[2]


def test_dense_ops_and_notes(dec):
    m = dec.meta
    wl = build_workload(dec, load_config("spatten", IDEAL), source="x.npz")
    t, g = m.prompt_tokens, m.generated_tokens
    pairs = t * (t + 1) // 2 + sum(t + i for i in range(1, g + 1))
    assert wl.dense_ops == 4 * m.head_dim * m.n_heads * m.n_layers * pairs
    assert wl.source == "x.npz" and wl.n_kv_heads == m.n_kv_heads
    assert wl.notes["progressive_generation"] and not wl.notes["progressive_summarization"]


def test_blas_thread_count_restored(enc):
    from spatten_sim.algo.blas import _openblas

    fns = _openblas()
    if fns is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    get_fn, _ = fns
    before = get_fn()
    build_workload(enc, cfg())
    assert get_fn() == before


@pytest.mark.slow
def test_smollm_sized_decoder_within_a_minute():
    import time

    tr = synthetic_trace(
        n_layers=30, n_heads=9, n_kv_heads=3, tokens=1024, generated_tokens=32, seed=1
    )
    c = load_config("spatten", IDEAL)
    t0 = time.process_time()
    wl = build_workload(tr, c)
    assert time.process_time() - t0 < 60.0
    assert len(wl.layers) == 30 * 33
    summ = [lj for lj in wl.layers if lj.stage == "summarization"]
    assert summ[0].tokens_kept == 992 and summ[-1].tokens_kept == 298  # ceil(992 * 0.3)
    assert all(lj.heads_kept == 1 * 9 for lj in summ[:9])  # ceil(0.3 * 30) = 9 unpruned layers
    assert summ[-1].heads_kept == 7  # ceil(9 * 0.75)


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_token_pruning_keeps_the_top_cumulative_importance(enc):
    """Independent recomputation with float64 attention over the survivors (wide words)."""
    wl = build_workload(enc, cfg(WIDE, TOKEN))
    m = enc.meta
    score = np.zeros(m.tokens)
    surv = [np.unique(np.concatenate([h.k_msb_fetch for h in lj.heads])) for lj in wl.layers]
    for layer in range(m.n_layers):
        s_ids = surv[layer]
        if layer:
            want = int(np.ceil(m.tokens * [None, 0.8, 0.55, 0.3][layer] - 1e-9))
            prev = surv[layer - 1]
            best = prev[np.argsort(-score[prev], kind="stable")[:want]]
            assert np.array_equal(np.sort(best), s_ids)
        q = enc.q[layer][:, s_ids].astype(np.float64)
        k = enc.k[layer][:, s_ids].astype(np.float64)
        p = _softmax(q @ k.transpose(0, 2, 1) * m.softmax_scale)
        score[s_ids] += p.sum(axis=(0, 1))


def test_local_v_keeps_the_largest_probabilities(dec):
    wl = build_workload(dec, cfg(WIDE, LOCALV))
    m = dec.meta
    g = m.n_heads // m.n_kv_heads
    checked = 0
    for lj in wl.layers:
        if lj.stage != "generation":
            continue
        t = m.prompt_tokens + lj.iteration - 1
        for h in lj.heads:
            if h.head % g:
                continue  # the first head of its group fetches exactly its kept rows
            q = dec.q[lj.layer, h.head, t].astype(np.float64)
            k = dec.k[lj.layer, h.kv_head, : t + 1].astype(np.float64)
            p = _softmax(k @ q * m.softmax_scale)
            top = np.sort(np.argsort(-p, kind="stable")[: int(h.v_kept[0])])
            assert np.array_equal(h.v_fetch, top)
            checked += 1
    assert checked == m.generated_tokens * m.n_layers * m.n_kv_heads


def test_requant_flag_is_max_msb_probability_under_threshold(dec):
    from spatten_sim.algo.quant import QuantSpec, quantize, softmax_fixed

    th = 0.2
    wl = build_workload(dec, cfg(prog(th)))
    m = dec.meta
    seen: set[bool] = set()
    for h in wl.head_jobs():
        if h.stage != "generation":
            continue
        t = int(h.query_ids[0])
        qz = quantize(dec.q[h.layer, h.head], QuantSpec(12, 0), (-2, -1))
        kz = quantize(dec.k[h.layer, h.kv_head], QuantSpec(6, 4), (-2, -1))
        ids = h.k_msb_fetch if h.k_msb_fetch.size else None
        if ids is None:  # later head of the group: same keys as the group's first head
            continue
        s = (kz.msb_code()[ids].astype(np.float64) @ qz.code[t].astype(np.float64))[None]
        fac = np.array([qz.scale.item() * kz.scale.item() * m.softmax_scale])
        _, rowmax = softmax_fixed(s, fac, None, np.array([ids.size]), 12)
        assert bool(h.requant[0]) == bool(rowmax[0] < th)
        seen.add(bool(h.requant[0]))
    assert seen == {True, False}


def test_token_importance_accumulates_exact_integer_codes():
    """The importance accumulators add the probabilities' integer codes: equal importance is an
    exact tie (broken by the engine's earliest-in-stream rule), never float rounding noise."""
    from pathlib import Path

    from spatten_sim.algo.functional import FunctionalBuilder
    from spatten_sim.config import load_config
    from spatten_sim.trace import load_trace

    root = Path(__file__).resolve().parents[2]
    trace = load_trace(root / "traces" / "minilm-sst-25.npz")
    b = FunctionalBuilder(trace, load_config("spatten"), None, False)
    b.run()
    s = b.state.s_tok
    assert s.max() > 4095  # in code units (1 = 1/4095), summed over heads, queries, layers
    assert np.array_equal(s, np.rint(s)), "importance must be a sum of integer codes"


def test_a_shared_dense_cache_changes_no_figure_of_the_workload():
    """Runs of one trace under different policies share the dense reference (sweeps): each
    workload, fidelity included, equals the one built without the cache."""
    import pickle

    from spatten_sim.algo.fidelity import DenseCache

    tr = synthetic_trace(n_layers=3, n_heads=4, tokens=40, generated_tokens=3, seed=4, causal=True)
    cache = DenseCache(tr)
    for sets in (["policy.token_pruning.enabled=true"], ["policy.head_pruning.enabled=true"]):
        c = cfg(sets)
        shared, fresh = build_workload(tr, c, dense_cache=cache), build_workload(tr, c)
        assert shared.fidelity == fresh.fidelity and shared.fidelity["per_layer"]
        assert pickle.dumps(shared) == pickle.dumps(fresh)  # every array and figure, bit for bit
    assert cache.hits > 0
    with pytest.raises(ValueError, match="serves another trace"):
        build_workload(synthetic_trace(n_layers=3, tokens=40, seed=5), cfg(), dense_cache=cache)
