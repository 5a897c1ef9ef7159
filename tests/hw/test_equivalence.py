"""The two timing models agree on every cycle (docs/timing-model.md).

The production SimPy model (:func:`spatten_sim.hw.accelerator.run_timing`) and the cycle-stepped
reference (:func:`spatten_sim.hw.reference.run_reference`) must return the same
:meth:`TimingResult.comparable` dict on every workload and configuration: random small
workloads (``tests/hw/strategies.py``) under random stressing overrides, the shipped traces and
the official CSVs cut to a few layers, and the default HBM2 memory on the smallest cases.

The fast suite runs a few dozen random cases and small cuts; ``-m slow`` runs hundreds of random
cases and whole layers. The comparisons skip while :mod:`spatten_sim.hw.reference` does not
exist.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatten_sim.config import load_config
from spatten_sim.hw.accelerator import run_timing
from spatten_sim.hw.result import LayerRecord
from spatten_sim.pipeline import load_workload, make_memory_for
from spatten_sim.validate.context import GPT2_MEDIUM_CSV, GPT2_SMALL_CSV, official_csv_path
from spatten_sim.workload import Workload, cut_workload


def _load_strategies():
    """tests/hw/strategies.py, whatever pytest's import mode (tests/ is not a package)."""
    name = "spatten_tests_hw_strategies"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("strategies.py")
        )
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up while the file runs
        spec.loader.exec_module(mod)
    return sys.modules[name]


strategies = _load_strategies()

REPO = Path(__file__).resolve().parents[2]
TRACES = sorted((REPO / "traces").glob("*.npz"))
SMALLEST_TRACE = REPO / "traces" / "minilm-sst-25.npz"
DECODER_TRACE = REPO / "traces" / "smollm2-wiki-96+16.npz"
IDEAL = "memory.preset=ideal"


# ------------------------------------------------------------------ the models
def _run_reference() -> Callable[..., Any]:
    if importlib.util.find_spec("spatten_sim.hw.reference") is None:
        pytest.skip("spatten_sim.hw.reference (the cycle-stepped reference) does not exist yet")
    return importlib.import_module("spatten_sim.hw.reference").run_reference


_LAYER_FIELDS = [f.name for f in dataclasses.fields(LayerRecord)]


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Compact description of where two comparable() values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                have = "reference" if k in a else "production"
                out.append(f"{p}: only in {have} ({a.get(k, b.get(k))!r})")
            else:
                out += _diff(a[k], b[k], p)
        return out
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path}: {len(a)} entries (reference) != {len(b)} (production)"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            # the per-layer records are tuples of LayerRecord's fields: name them
            sub = f"{path}.{_LAYER_FIELDS[i]}" if path.startswith("layers[") else f"{path}[{i}]"
            out += _diff(x, y, sub)
        return out
    if a != b:
        return [f"{path}: reference {a!r} != production {b!r}"]
    return []


def check_equal(cfg, wl: Workload, label: str = "") -> dict[str, Any]:
    """Run both models on ``wl`` (a fresh memory model each) and assert they agree."""
    run_reference = _run_reference()
    ref = run_reference(cfg, wl, make_memory_for(cfg)).comparable()
    prod = run_timing(cfg, wl, make_memory_for(cfg)).comparable()
    d = _diff(ref, prod)
    if d:
        more = f"\n  ... and {len(d) - 25} more" if len(d) > 25 else ""
        pytest.fail(
            f"reference and production differ{' on ' + label if label else ''} "
            f"({len(d)} values):\n  " + "\n  ".join(d[:25]) + more,
            pytrace=False,
        )
    return prod


def test_diff_reports_every_difference():
    a = {"cycles": 10, "busy": {"qxk": 3, "probxv": 1}, "layers": [(0, 1), (2, 3)], "c": [5, 6]}
    b = {"cycles": 11, "busy": {"qxk": 3}, "layers": [(0, 1), (2, 4)], "c": [5, 7]}
    assert _diff(a, b) == [
        "busy.probxv: only in reference (1)",
        "c[1]: reference 6 != production 7",
        "cycles: reference 10 != production 11",
        "layers[1].iteration: reference 3 != production 4",
    ]
    assert _diff(a, a) == []
    assert _diff({"l": [1]}, {"l": [1, 2]}) == ["l: 1 entries (reference) != 2 (production)"]


def test_check_equal_fails_when_the_models_differ(monkeypatch, make_dense_workload):
    def late_by_one(cfg, wl, mem):
        r = run_timing(cfg, wl, mem)
        return dataclasses.replace(r, cycles=r.cycles + 1)

    monkeypatch.setitem(globals(), "_run_reference", lambda: late_by_one)
    cfg = load_config("dense", [IDEAL])
    wl = make_dense_workload(n_layers=1, n_heads=1, tokens=4)
    with pytest.raises(pytest.fail.Exception, match=r"\(1 values\):\n  cycles: reference"):
        check_equal(cfg, wl)


# ------------------------------------------------------------------ cached workloads
@pytest.fixture(scope="module")
def workload_of() -> Callable[[Path, str], Workload]:
    """(input path, preset) -> the workload of the functional phase (or CSV import), cached."""
    cache: dict[tuple[str, str], Workload] = {}

    def get(path: Path, preset: str) -> Workload:
        key = (str(path), preset)
        if key not in cache:
            cache[key] = load_workload(load_config(preset, [IDEAL]), path)[0]
        return cache[key]

    return get


def _csv(name: str) -> Path:
    p = official_csv_path(name)
    assert p is not None, f"official workload {name} ships with the package"
    return p


# ------------------------------------------------------------------ random workloads
def _random_case(spec, base: str, sets: list[str]) -> None:
    cfg = load_config(base, [IDEAL, *sets])
    wl = spec.build()
    check_equal(cfg, wl, f"{spec} on {base} {sets}")


_random_args = dict(
    spec=strategies.workload_specs(),
    base=st.sampled_from(["dense", "spatten"]),
    sets=strategies.config_overrides(),
)
_hc = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=35, deadline=None, suppress_health_check=_hc, print_blob=True)
@given(**_random_args)
def test_random_workloads_agree(spec, base, sets):
    _random_case(spec, base, sets)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=_hc, print_blob=True)
@given(**_random_args)
def test_random_workloads_agree_many(spec, base, sets):
    _random_case(spec, base, sets)


# ------------------------------------------------------------------ shipped traces
_FAST_TRACE_CUT = dict(n_layers=2, max_heads=2, max_queries=8)
_TRACE_IDS = [p.stem for p in TRACES]


def _trace_case(workload_of, trace: Path, preset: str, **cut) -> None:
    wl = cut_workload(workload_of(trace, preset), n_iterations=2, **cut)
    check_equal(load_config(preset, [IDEAL]), wl, f"{trace.name} on {preset} cut {cut}")


@pytest.mark.parametrize("preset", ["spatten", "dense"])
@pytest.mark.parametrize("trace", TRACES, ids=_TRACE_IDS)
def test_traces_agree(workload_of, trace, preset):
    _trace_case(workload_of, trace, preset, **_FAST_TRACE_CUT)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["spatten", "dense"])
@pytest.mark.parametrize("trace", TRACES, ids=_TRACE_IDS)
def test_traces_agree_two_whole_layers(workload_of, trace, preset):
    _trace_case(workload_of, trace, preset, n_layers=2)


def test_shipped_traces_are_there():
    assert {p.name for p in TRACES} >= {SMALLEST_TRACE.name, DECODER_TRACE.name}


# ------------------------------------------------------------------ official CSVs
_CSVS = [GPT2_SMALL_CSV, GPT2_MEDIUM_CSV]
_CSV_IDS = ["gpt2-small", "gpt2-medium"]


def _csv_case(workload_of, name: str, preset: str, **cut) -> None:
    wl = cut_workload(workload_of(_csv(name), preset), n_layers=2, **cut)
    check_equal(load_config(preset, [IDEAL]), wl, f"{name} on {preset} cut {cut}")


@pytest.mark.parametrize("preset", ["spatten", "spatten_rtl"])
@pytest.mark.parametrize("name", _CSVS, ids=_CSV_IDS)
def test_official_csvs_agree(workload_of, name, preset):
    _csv_case(workload_of, name, preset, n_iterations=2, max_heads=2)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["spatten", "spatten_rtl"])
@pytest.mark.parametrize("name", _CSVS, ids=_CSV_IDS)
def test_official_csvs_agree_all_heads(workload_of, name, preset):
    _csv_case(workload_of, name, preset, n_iterations=2)


# ------------------------------------------------------------------ layers without heads
@pytest.mark.parametrize("barrier", ["true", "false"])
@pytest.mark.parametrize("empty", [0, 1, 2], ids=["first", "middle", "last"])
def test_layers_without_heads_agree(make_dense_workload, empty, barrier):
    """A layer job may have no head left (cascade head pruning can empty it): it ends where it
    starts (docs/timing-model.md §7), and the run still waits for every job of the others."""
    wl = make_dense_workload(n_layers=3, n_heads=1, tokens=4)
    layers = list(wl.layers)
    layers[empty] = dataclasses.replace(layers[empty], heads=())
    wl = dataclasses.replace(wl, layers=tuple(layers))
    cfg = load_config("dense", [IDEAL, f"timing.layer_barrier={barrier}"])
    r = check_equal(cfg, wl, f"empty layer {empty}, barrier {barrier}")
    assert r["cycles"] >= max(rec[-2] for rec in r["layers"])  # end_cycle of every layer


# ------------------------------------------------------------------ HBM2
def test_hbm2_encoder_agrees(workload_of):
    wl = cut_workload(workload_of(SMALLEST_TRACE, "spatten"), n_layers=2, max_heads=3)
    check_equal(load_config("spatten"), wl, "minilm-sst-25 on spatten + HBM2")


def test_hbm2_generation_agrees(workload_of):
    wl = cut_workload(
        workload_of(DECODER_TRACE, "spatten_rtl"),
        n_layers=1,
        n_iterations=2,
        max_heads=3,
        max_queries=8,
    )
    assert any(lj.stage == "generation" for lj in wl.layers)
    check_equal(load_config("spatten_rtl"), wl, "smollm2 on spatten_rtl + HBM2")


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["spatten", "spatten_rtl", "dense"])
def test_hbm2_decoder_agrees_two_layers(workload_of, preset):
    wl = cut_workload(workload_of(DECODER_TRACE, preset), n_layers=2, n_iterations=3)
    check_equal(load_config(preset), wl, f"smollm2 on {preset} + HBM2")


# ------------------------------------------------------------------ cut_workload
def _n_jobs(wl: Workload) -> int:
    return sum(h.n_queries for h in wl.head_jobs())


def test_cut_workload_keeps_an_uncut_workload(workload_of):
    wl = workload_of(DECODER_TRACE, "spatten")
    same = cut_workload(wl)
    assert same.dense_ops == wl.dense_ops
    assert (same.n_layers, same.generated_tokens) == (wl.n_layers, wl.generated_tokens)
    assert [lj.heads for lj in same.layers] == [lj.heads for lj in wl.layers]


def test_cut_workload_is_consistent(workload_of):
    wl = workload_of(DECODER_TRACE, "spatten")
    cut = cut_workload(wl, n_layers=2, n_iterations=1, max_heads=4, max_queries=5)
    assert {(lj.iteration, lj.layer) for lj in cut.layers} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert (cut.n_layers, cut.generated_tokens) == (2, 1)
    assert cut.notes["cut"]["max_heads"] == 4
    for lj in cut.layers:
        assert 1 <= len(lj.heads) <= 4
        assert lj.heads_kept <= 4
        fetching = set()
        for hj in lj.heads:
            q = hj.n_queries
            assert 1 <= q <= 5
            for a in (hj.keys_per_query, hj.requant, hj.v_kept, hj.local_topk_cycles):
                assert a.shape == (q,)
            assert set(hj.q_fetch) <= set(hj.query_ids)
            if hj.k_msb_fetch.size:
                fetching.add(hj.kv_head)
            # the group's K rows are fetched by a kept head
            assert hj.kv_head in fetching
    # the summarization's dense work: 4 heads x 2 layers x the first 5 causal queries
    d = wl.head_dim
    summ = 4 * d * 4 * 2 * (5 * 6 // 2)
    gen = 4 * d * 4 * 2 * (wl.prompt_tokens + 1)
    assert cut.dense_ops == summ + gen
    assert _n_jobs(cut) == 2 * 4 * 5 + 2 * 4
    with pytest.raises(ValueError, match="max_queries"):
        cut_workload(wl, max_queries=0)


def test_cut_workload_replays_the_kept_layers(workload_of):
    """The cut of a trace replays only what it kept (and the production model runs it)."""
    wl = workload_of(SMALLEST_TRACE, "dense")
    cfg = load_config("dense", [IDEAL])
    whole = run_timing(cfg, wl, make_memory_for(cfg))
    cut = run_timing(cfg, cut_workload(wl, n_layers=1), make_memory_for(cfg))
    assert len(cut.layers) == 1
    assert cut.layers[0] == whole.layers[0]
    assert cut.cycles < whole.cycles


# ------------------------------------------------------------------ the strategies
@settings(max_examples=60, deadline=None, suppress_health_check=_hc)
@given(spec=strategies.workload_specs())
def test_random_workloads_are_well_formed(spec):
    wl = spec.build()
    assert wl.layers
    for lj in wl.layers:
        groups: set[int] = set()
        for hj in lj.heads:
            assert hj.kv_head == hj.head // (wl.n_heads // wl.n_kv_heads)
            q = hj.n_queries
            assert q >= 1
            assert (hj.keys_per_query >= 1).all()
            assert (hj.v_kept >= 1).all() and (hj.v_kept <= hj.keys_per_query).all()
            assert (hj.keys_per_query <= hj.n_keys).all()
            if wl.causal and hj.stage == "summarization":
                assert (hj.keys_per_query <= hj.query_ids + 1).all()
            for a in (hj.k_msb_fetch, hj.v_fetch, hj.k_lsb_fetch, hj.q_lsb_fetch):
                assert (a[1:] > a[:-1]).all()
                assert a.size == 0 or a.max() < wl.prompt_tokens + wl.generated_tokens
            if hj.kv_head in groups:
                assert hj.k_msb_fetch.size == 0
            else:
                assert hj.k_msb_fetch.size == hj.n_keys
                groups.add(hj.kv_head)
            assert not hj.requant.any() or hj.bits.k_lsb > 0  # a re-fetch reads LSBs
            assert hj.n_keys == lj.tokens_kept
