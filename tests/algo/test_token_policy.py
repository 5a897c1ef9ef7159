"""Token-pruning policies (algo/token_policy.py): each kind's decisions against a plain-Python
reference written separately, budgets, the cascade unchanged, the presets and the config keys."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.algo import functional
from spatten_sim.algo.functional import build_workload
from spatten_sim.algo.token_policy import decide, make_policy
from spatten_sim.config import TokenPruningConfig, load_config
from spatten_sim.errors import ConfigError
from spatten_sim.shipped import find_input, list_shipped
from spatten_sim.trace import load_trace, synthetic_trace

IDEAL = ["memory.preset=ideal"]
TP = "policy.token_pruning."


# ---------------------------------------------------------------------------------------------
# the reference: plain Python, written from docs/algorithms.md, not from token_policy.py
@dataclass
class Spec:
    kind: str
    n_layers: int
    enabled: bool = True
    unpruned: float = 0.15
    start_keep: float = 1.0
    end_keep: float = 1.0
    budget_ratio: float = 0.0
    budget_tokens: int = 0
    start: int = 0
    recent_ratio: float = 0.0
    recent_tokens: int = 0
    normalize: bool = False
    in_summ: bool = False

    def sets(self) -> list[str]:
        out = [
            f"{TP}enabled={str(self.enabled).lower()}",
            f"{TP}kind={self.kind}",
            f"{TP}unpruned_layers_fraction={self.unpruned}",
            f"{TP}start_keep_ratio={self.start_keep}",
            f"{TP}end_keep_ratio={self.end_keep}",
            f"{TP}normalize_scores={str(self.normalize).lower()}",
        ]
        if self.kind != "cascade":
            out += [
                f"{TP}budget_ratio={self.budget_ratio}",
                f"{TP}budget_tokens={self.budget_tokens}",
                f"{TP}start_tokens={self.start}",
                f"{TP}recent_ratio={self.recent_ratio}",
                f"{TP}recent_tokens={self.recent_tokens}",
                f"{TP}in_summarization={str(self.in_summ).lower()}",
            ]
        return out

    def first_pruned(self) -> int:
        return min(self.n_layers, math.ceil(self.unpruned * self.n_layers - 1e-9))

    def ratio(self, layer: int) -> float:
        first = self.first_pruned()
        m = self.n_layers - first
        if m == 1:
            return (self.start_keep + self.end_keep) / 2
        return self.start_keep + (self.end_keep - self.start_keep) * (layer - first) / (m - 1)


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)


def ref_keep(
    sp: Spec,
    layer: int,
    gen: bool,
    cand: list[int],
    L: int,
    t: int | None,
    score: np.ndarray,
    count: np.ndarray,
) -> tuple[list[int], tuple[int, int] | None]:
    """Kept token ids (ascending) and the engine call's (n, k), or None when no call ran."""
    if not sp.enabled or layer < sp.first_pruned():
        return cand, None
    if sp.kind != "cascade" and not gen and not sp.in_summ:
        return cand, None

    def val(i: int) -> float:
        if not sp.normalize:
            return float(score[i])
        return float(score[i]) / float(count[i]) if count[i] > 0 else 0.0

    if sp.kind == "cascade":
        k = max(1, min(L, _ceil(L * sp.ratio(layer))))
        if k >= len(cand) or all(val(i) == 0 for i in cand):
            return cand, None
        order = sorted(cand, key=lambda i: (-(math.inf if i == t else val(i)), i))
        return sorted(order[:k]), (len(cand), k)
    budget = sp.budget_tokens if sp.budget_tokens else max(1, min(L, _ceil(L * sp.budget_ratio)))
    budget = min(budget, L)
    if budget >= len(cand):
        return cand, None
    start = min(sp.start, budget)
    if sp.kind == "streaming":
        recent = budget - start
    else:
        recent = sp.recent_tokens if sp.recent_tokens else max(0, _ceil(L * sp.recent_ratio))
        recent = min(recent, budget - start)
    if gen and recent == 0:  # the current token is kept: it is the newest
        recent, start = 1, min(start, budget - 1)
    head, mid = cand[:start], cand[start : len(cand) - recent]
    tail = cand[len(cand) - recent :] if recent else []
    k = budget - start - recent
    if k == 0:
        return sorted(head + tail), None
    if all(val(i) == 0 for i in mid):
        return cand, None
    top = sorted(mid, key=lambda i: (-val(i), i))[:k]
    return sorted(head + top + tail), (len(mid), k)


@dataclass
class Job:
    stage: str
    iteration: int
    layer: int
    alive: np.ndarray
    n_ctx: int
    t: int | None
    groups: list  # (probs [b, nq, nk], kpq [nq]) per K/V group computed


def record_run(trace, cfg, monkeypatch):
    """Run the functional phase, recording each layer's kept tokens and its groups'
    probabilities (the only thing the reference takes from it)."""
    jobs: list[Job] = []
    real_attend = functional._attend_group
    real_run_layer = functional.FunctionalBuilder._run_layer

    def attend(pol, eng, progressive, local_v, q_code, k_code, v_code, *rest):
        res = real_attend(pol, eng, progressive, local_v, q_code, k_code, v_code, *rest)
        jobs[-1].groups.append((res.probs.copy(), np.asarray(rest[-2]).copy()))
        return res

    def run_layer(self, stage, iteration, layer, alive, heads_alive, tok_call, n_ctx, t):
        jobs.append(Job(stage, iteration, layer, alive.copy(), n_ctx, t, []))
        return real_run_layer(self, stage, iteration, layer, alive, heads_alive, tok_call, n_ctx, t)

    monkeypatch.setattr(functional, "_attend_group", attend)
    monkeypatch.setattr(functional.FunctionalBuilder, "_run_layer", run_layer)
    wl = build_workload(trace, cfg)
    monkeypatch.undo()
    return wl, jobs


def check_against_reference(trace, sp: Spec, monkeypatch, extra=()) -> int:
    """Replay the recorded run with the reference; returns the number of engine calls."""
    cfg = load_config("dense", [*IDEAL, *sp.sets(), *extra])
    wl, jobs = record_run(trace, cfg, monkeypatch)
    m = trace.meta
    T, levels = m.tokens, float((1 << cfg.buffers.word_bits) - 1)
    g_score, g_count = np.zeros(T), np.zeros(T)
    l_score, l_count = np.zeros((m.n_layers, T)), np.zeros((m.n_layers, T))
    alive = [list(range(m.prompt_tokens)) for _ in range(m.n_layers)]
    prev: list[int] | None = None
    calls = 0
    assert len(jobs) == len(wl.layers)
    for job, lj in zip(jobs, wl.layers, strict=True):
        gen = job.stage == "generation"
        if job.layer == 0:
            prev = None
        own = sorted(set(alive[job.layer]) | ({job.t} if gen else set()))
        if sp.kind != "cascade" and gen and sp.enabled and job.layer >= sp.first_pruned():
            cand = own  # the layer's own KV cache
        else:
            cand = own if prev is None else [i for i in own if i in set(prev)]
        per_layer = sp.kind == "h2o"
        s, c = (l_score[job.layer], l_count[job.layer]) if per_layer else (g_score, g_count)
        kept, call = ref_keep(sp, job.layer, gen, cand, job.n_ctx, job.t, s, c)
        where = f"{job.stage} {job.iteration} layer {job.layer}"
        assert np.flatnonzero(job.alive).tolist() == kept, where
        got = lj.token_topk
        assert (None if got is None else (got.n, got.k)) == call, where
        calls += call is not None
        if gen:
            assert job.t in kept  # the current token is always kept in its own iteration
        for probs, kpq in job.groups:  # accumulate from the hardware's probabilities
            imp = np.rint(probs.astype(np.float64) * levels).sum(axis=(0, 1))
            for j, tok in enumerate(kept):
                seen = probs.shape[0] * sum(1 for n in kpq if n > j)
                g_score[tok] += imp[j]
                l_score[job.layer, tok] += imp[j]
                g_count[tok] += seen
                l_count[job.layer, tok] += seen
        alive[job.layer] = kept
        prev = kept
    return calls


def random_spec(rng: np.random.Generator, kind: str, n_layers: int, encoder: bool) -> Spec:
    sp = Spec(kind, n_layers, unpruned=float(rng.choice([0.0, 0.25, 0.5])))
    sp.normalize = bool(rng.integers(2)) and kind != "streaming"
    if kind == "cascade":
        sp.start_keep = round(float(rng.uniform(0.3, 1.0)), 3)
        sp.end_keep = round(float(rng.uniform(0.1, sp.start_keep)), 3)
        return sp
    sp.in_summ = encoder or (kind != "h2o" and bool(rng.integers(2)))
    if rng.integers(2):
        sp.budget_ratio = round(float(rng.uniform(0.2, 0.9)), 3)
        sp.start = int(rng.integers(0, 5))
        if kind != "streaming" and rng.integers(2):
            sp.recent_ratio = round(float(rng.uniform(0.0, sp.budget_ratio)), 3)
    else:
        sp.budget_tokens = int(rng.integers(3, 30))
        sp.start = int(rng.integers(0, min(5, sp.budget_tokens)))
        if kind != "streaming" and rng.integers(2):
            sp.recent_tokens = int(rng.integers(0, sp.budget_tokens - sp.start + 1))
    return sp


KINDS = ("cascade", "spatten_llm", "h2o", "streaming")


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("kind", KINDS)
def test_decisions_match_the_reference_on_random_workloads(kind, seed, monkeypatch):
    rng = np.random.default_rng(1000 * KINDS.index(kind) + seed)
    encoder = kind != "h2o" and seed % 4 == 3
    n_heads = int(rng.choice([2, 4]))
    trace = synthetic_trace(
        n_layers=int(rng.integers(2, 5)),
        n_heads=n_heads,
        n_kv_heads=int(rng.choice([1, n_heads // 2, n_heads])),
        head_dim=16,
        tokens=int(rng.integers(20, 40)),
        generated_tokens=0 if encoder else int(rng.integers(3, 8)),
        concentration=float(rng.uniform(0.0, 3.0)),
        seed=seed,
    )
    sp = random_spec(rng, kind, trace.meta.n_layers, encoder)
    heads = (
        [
            "policy.head_pruning.enabled=true",
            "policy.head_pruning.unpruned_layers_fraction=0.3",
            "policy.head_pruning.end_keep_ratio=0.5",
        ]
        if seed % 3 == 0
        else []
    )
    check_against_reference(trace, sp, monkeypatch, heads)


def test_engine_calls_are_made_and_cost_cycles(monkeypatch):
    trace = synthetic_trace(n_layers=4, n_heads=4, n_kv_heads=2, tokens=48, generated_tokens=6)
    for kind in ("spatten_llm", "h2o"):
        sp = Spec(kind, 4, unpruned=0.25, budget_ratio=0.5, start=2, recent_ratio=0.2)
        # 3 pruning layers; a ratio budget grows with the context: every other iteration
        # the cache is already within it
        assert check_against_reference(trace, sp, monkeypatch) >= 3
        wl = build_workload(trace, load_config("dense", [*IDEAL, *sp.sets()]))
        calls = [lj.token_topk for lj in wl.layers if lj.token_topk is not None]
        assert all(c.cycles > 0 and c.k < c.n for c in calls)
        assert all(lj.token_topk is None for lj in wl.layers if lj.stage == "summarization")


def test_streaming_is_positions_only(monkeypatch):
    trace = synthetic_trace(n_layers=3, n_heads=2, tokens=40, generated_tokens=8, seed=2)
    sp = Spec("streaming", 3, unpruned=0.0, budget_tokens=12, start=4)
    assert check_against_reference(trace, sp, monkeypatch) == 0
    wl = build_workload(trace, load_config("dense", [*IDEAL, *sp.sets()]))
    for lj in wl.layers:
        assert lj.token_topk is None
        if lj.stage == "generation":
            t = trace.meta.prompt_tokens + lj.iteration - 1
            keys = lj.heads[0].k_msb_fetch.tolist()
            assert keys == [0, 1, 2, 3, *range(t - 7, t + 1)]  # 4 sinks + a window of 8


@pytest.mark.parametrize("kind", ("spatten_llm", "h2o", "streaming"))
def test_budgets_are_respected_in_generation(kind):
    trace = synthetic_trace(n_layers=6, n_heads=4, n_kv_heads=2, tokens=64, generated_tokens=8)
    sets = [f"{TP}enabled=true", f"{TP}kind={kind}", f"{TP}unpruned_layers_fraction=0.34"]
    sets += [f"{TP}budget_ratio=0.4", f"{TP}start_tokens=3"]
    sets += [f"{TP}recent_ratio=0.1"] if kind != "streaming" else []
    wl = build_workload(trace, load_config("dense", [*IDEAL, *sets]))
    m = trace.meta
    for lj in wl.layers:
        L = lj.tokens_total
        if lj.stage == "summarization" or lj.layer < 3:
            assert lj.tokens_kept == L  # dense prefill; the first ceil(0.34 * 6) = 3 layers
            continue
        assert lj.tokens_kept == math.ceil(0.4 * L - 1e-9)
        keys = lj.heads[0].k_msb_fetch.tolist()
        t = m.prompt_tokens + lj.iteration - 1
        assert keys[:3] == [0, 1, 2] and keys[-1] == t
        n_recent = L - 3 if kind == "streaming" else math.ceil(0.1 * L - 1e-9)
        n_recent = min(n_recent, lj.tokens_kept - 3)
        assert keys[len(keys) - n_recent :] == list(range(t - n_recent + 1, t + 1))


def test_kv_cache_kinds_never_restore_a_token():
    trace = synthetic_trace(n_layers=3, n_heads=2, tokens=40, generated_tokens=10, seed=4)
    for kind in ("spatten_llm", "h2o"):
        sets = [f"{TP}enabled=true", f"{TP}kind={kind}", f"{TP}unpruned_layers_fraction=0"]
        sets += [f"{TP}budget_tokens=16", f"{TP}recent_tokens=4"]
        wl = build_workload(trace, load_config("dense", [*IDEAL, *sets]))
        seen: dict[int, set[int]] = {}
        for lj in wl.layers:
            keys = set(lj.heads[0].k_msb_fetch.tolist())
            if lj.stage == "generation":
                t = trace.meta.prompt_tokens + lj.iteration - 1
                assert keys - {t} <= seen[lj.layer]
            seen[lj.layer] = keys


def test_decide_unit_cases():
    """Hand-made: 10 candidates, scores chosen so that the answer is obvious."""
    tp = TokenPruningConfig(
        enabled=True, kind="spatten_llm", unpruned_layers_fraction=0.0, budget_tokens=5
    )
    tp = TokenPruningConfig(**{**tp.__dict__, "start_tokens": 1, "recent_tokens": 2})
    pol = make_policy(tp, 1)
    scores = np.array([0, 5, 1, 9, 2, 8, 3, 0, 7, 6], dtype=np.float64)
    cand = np.ones(10, dtype=bool)
    calls = []

    def one(vals, k):
        calls.append((vals.tolist(), k))
        return np.sort(np.argsort(-vals, kind="stable")[:k]), 7

    keep, call = decide(pol, one, 0, cand, 10, 9, scores, None)
    # start: 0; recent: 8, 9 (9 is the current token); 2 important among 1..7: 3 (9), 5 (8)
    assert np.flatnonzero(keep).tolist() == [0, 3, 5, 8, 9]
    assert call is not None and (call.n, call.k, call.cycles) == (7, 2, 7)
    assert calls == [([5, 1, 9, 2, 8, 3, 0], 2)]
    # normalized: token 1 was seen by 1 query, token 3 by 9: 5 / 1 beats 9 / 9, 3 / 1 too
    pol_n = make_policy(TokenPruningConfig(**{**tp.__dict__, "normalize_scores": True}), 1)
    counts = np.array([1, 1, 1, 9, 1, 8, 1, 1, 1, 1], dtype=np.float64)
    keep, _ = decide(pol_n, one, 0, cand, 10, 9, scores, counts)
    assert np.flatnonzero(keep).tolist() == [0, 1, 6, 8, 9]
    keep, _ = decide(pol, one, 0, cand, 10, 9, scores, counts)  # counts unused: not normalized
    assert np.flatnonzero(keep).tolist() == [0, 3, 5, 8, 9]
    # no score accumulated yet: keep everything, no call
    keep, call = decide(pol, one, 0, cand, 10, 9, np.zeros(10), None)
    assert keep.all() and call is None


def test_unpruned_layers_zero_does_not_prune_on_empty_scores():
    trace = synthetic_trace(n_layers=3, n_heads=2, tokens=32, seed=1)
    sets = [f"{TP}enabled=true", f"{TP}unpruned_layers_fraction=0.0"]
    sets += [f"{TP}start_keep_ratio=0.5", f"{TP}end_keep_ratio=0.5"]
    wl = build_workload(trace, load_config("dense", [*IDEAL, *sets]))
    assert wl.layers[0].tokens_kept == 32 and wl.layers[0].token_topk is None
    assert [lj.tokens_kept for lj in wl.layers[1:]] == [16, 16]


# ---------------------------------------------------------------------------------------------
# configuration
H2O = [f"{TP}kind=h2o", f"{TP}budget_ratio=0.5"]
STREAM = [f"{TP}kind=streaming", f"{TP}budget_ratio=0.5"]
LLM8 = [f"{TP}kind=spatten_llm", f"{TP}budget_tokens=8"]


@pytest.mark.parametrize(
    ("sets", "key"),
    [
        ([f"{TP}kind=lru"], "kind"),
        ([f"{TP}budget_ratio=0.5"], "budget_ratio"),  # cascade sizes by its schedule
        ([f"{TP}start_tokens=4"], "start_tokens"),
        ([f"{TP}in_summarization=true"], "in_summarization"),
        ([f"{TP}kind=h2o"], "budget_ratio"),  # no budget
        ([*H2O, f"{TP}budget_tokens=9"], "budget_ratio"),  # two budgets
        ([f"{TP}kind=h2o", f"{TP}budget_ratio=1.5"], "budget_ratio"),
        ([f"{TP}kind=h2o", f"{TP}budget_tokens=-1"], "budget_tokens"),
        ([*H2O, f"{TP}recent_ratio=0.6"], "recent_ratio"),
        ([*H2O, f"{TP}recent_ratio=0.1", f"{TP}recent_tokens=3"], "recent_ratio"),
        ([*H2O, f"{TP}in_summarization=true"], "in_summarization"),
        ([*LLM8, f"{TP}start_tokens=4", f"{TP}recent_tokens=5"], "budget_tokens"),
        ([*STREAM, f"{TP}recent_tokens=3"], "recent_tokens"),
        ([*STREAM, f"{TP}normalize_scores=true"], "normalize_scores"),
        ([*STREAM, f"{TP}start_tokens=1.5"], "start_tokens"),
    ],
)
def test_bad_token_pruning_configs_name_the_key(sets, key):
    with pytest.raises(ConfigError) as exc:
        load_config("dense", sets)
    msg = str(exc.value)
    assert msg.startswith(f"policy.token_pruning.{key}: ") and "\n" not in msg


def test_an_encoder_needs_in_summarization_for_a_kv_cache_kind():
    enc = synthetic_trace(n_layers=2, n_heads=2, tokens=16)
    sets = [f"{TP}enabled=true", f"{TP}kind=streaming", f"{TP}budget_ratio=0.5"]
    with pytest.raises(ConfigError, match=r"^policy\.token_pruning\.kind: streaming evicts"):
        build_workload(enc, load_config("dense", sets))
    wl = build_workload(enc, load_config("dense", [*sets, f"{TP}in_summarization=true"]))
    assert [lj.tokens_kept for lj in wl.layers] == [16, 8]  # layer 0 protected (ceil 0.3)


# ---------------------------------------------------------------------------------------------
# the cascade is unchanged: the decisions (kept tokens and heads, engine calls and cycles, fetch
# lists) of every shipped preset on every shipped trace are the ones recorded before the policies
# existed, bit for bit. The fidelity summary is held to 1e-4 relative, not bit for bit: its dense
# reference is float32 BLAS, whose last bits differ between CPUs (AVX2 and AVX-512 kernels sum in
# other orders) and with the reference's row blocking (algo/fidelity.py: dense_rows).
GOLDEN = Path(__file__).with_name("data") / "cascade_workload_digests.json"
FIDELITY_SUMMARY = (
    "output_rel_error_mean",
    "output_rel_error_max",
    "importance_spearman_mean",
    "importance_spearman_min",
    "importance_topk_overlap_mean",
    "importance_topk_overlap_min",
)


def workload_digest(wl) -> str:
    """A digest of every decision of the workload (not its fidelity)."""
    h = hashlib.sha256()
    for lj in wl.layers:
        head = (lj.stage, lj.iteration, lj.layer, lj.tokens_kept, lj.tokens_total, lj.heads_kept)
        h.update(repr((*head, lj.token_topk, lj.head_topk)).encode())
        for hj in lj.heads:
            h.update(repr((hj.head, hj.kv_head, hj.n_keys, hj.bits)).encode())
            for f in (
                "query_ids",
                "keys_per_query",
                "requant",
                "v_kept",
                "local_topk_cycles",
                "q_fetch",
                "k_msb_fetch",
                "k_lsb_fetch",
                "v_fetch",
                "q_lsb_fetch",
                "v_lsb_fetch",
            ):
                a = np.ascontiguousarray(getattr(hj, f))
                h.update(f.encode())
                h.update(str(a.dtype).encode())
                h.update(a.tobytes())
    return h.hexdigest()[:32]


def test_cascade_workloads_are_bit_identical_to_before():
    golden = json.loads(GOLDEN.read_text())
    done: dict[tuple, tuple[str, dict]] = {}
    traces = {}
    for key, want in golden.items():
        preset, trace_name = key.split("|")
        cfg = load_config(preset)
        assert cfg.policy.token_pruning.kind == "cascade"
        # the functional phase reads only these: presets that share them share the workload
        sig = (repr(cfg.policy), cfg.buffers.word_bits, repr(cfg.topk), trace_name)
        if sig not in done:
            if trace_name not in traces:
                path = find_input(trace_name)
                assert path is not None
                traces[trace_name] = load_trace(path)
            wl = build_workload(traces[trace_name], cfg)
            done[sig] = (workload_digest(wl), wl.fidelity)
        digest, fid = done[sig]
        assert digest == want["decisions"], key
        for f in FIDELITY_SUMMARY:
            assert fid[f] == pytest.approx(want["fidelity"][f], rel=1e-4, abs=1e-9), (key, f)


# ---------------------------------------------------------------------------------------------
# presets
LLM_PRESETS = ("spatten_llm", "h2o", "streaming")


def test_llm_presets_ship_and_differ_from_spatten_only_in_token_pruning():
    listed = {s.name for s in list_shipped() if s.kind == "preset"}
    base = load_config("spatten")
    for name in LLM_PRESETS:
        assert name in listed
        cfg = load_config(name)
        assert cfg.policy.token_pruning.kind == name and cfg.name == name
        same = [k for k in ("fetcher", "qxk", "probxv", "softmax", "topk", "buffers", "memory")]
        assert all(getattr(cfg, k) == getattr(base, k) for k in same)
        for k in ("head_pruning", "local_v_pruning", "quantization", "progressive_quantization"):
            assert getattr(cfg.policy, k) == getattr(base.policy, k)


def test_llm_presets_match_spattens_kept_tokens_in_generation():
    trace = load_trace(find_input("smollm2-wiki-96+16"))

    def kept(name: str) -> float:
        cfg = load_config(name)
        wl = functional.run_functional(trace, cfg, fidelity=False).workload
        gen = [lj for lj in wl.layers if lj.stage == "generation"]
        return sum(lj.tokens_kept for lj in gen) / sum(lj.tokens_total for lj in gen)

    ref = kept("spatten")
    for name in LLM_PRESETS:
        assert kept(name) == pytest.approx(ref, abs=0.01), name
