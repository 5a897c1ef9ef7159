"""End to end: presets on the shipped traces, each technique's direction, invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatten_sim.pipeline import simulate

TRACES = Path(__file__).resolve().parent.parent / "traces"
SHIPPED = sorted(TRACES.glob("*.npz"))
DECODER = TRACES / "smollm2-wiki-96+16.npz"


def _det(report) -> dict:
    """The deterministic part of a report (everything but the wall-clock ``sim`` section and the
    ``provenance``, which holds a timestamp)."""
    return {k: v for k, v in report.to_dict().items() if k not in ("sim", "provenance")}


@pytest.fixture(scope="module")
def runs():
    """spatten and dense on every shipped trace (hbm2 memory, the presets' default)."""
    return {(t.name, c): simulate(c, t) for t in SHIPPED for c in ("spatten", "dense")}


def test_there_are_shipped_traces_of_each_kind():
    names = {t.name for t in SHIPPED}
    assert {"minilm-sst-25.npz", "mpnet-wiki-128.npz", "smollm2-wiki-96+16.npz"} <= names


@pytest.mark.parametrize("trace", [t.name for t in SHIPPED])
def test_spatten_beats_dense_on_every_shipped_trace(runs, trace):
    sp, de = runs[(trace, "spatten")], runs[(trace, "dense")]
    assert sp["dram"]["bytes_read"] < de["dram"]["bytes_read"]
    assert sp["cycles"] < de["cycles"]
    assert sp["energy_pj"]["total"] < de["energy_pj"]["total"]
    assert sp["memory_model"].startswith("hbm2:")
    # SpAtten's effective throughput counts the same dense work in fewer cycles
    assert sp["throughput"]["dense_ops"] == de["throughput"]["dense_ops"]
    assert sp["throughput"]["gops_effective"] > de["throughput"]["gops_effective"]


@pytest.mark.parametrize("trace", [t.name for t in SHIPPED])
def test_invariants_hold_on_every_run(runs, trace):
    for cfg in ("spatten", "dense"):
        r = runs[(trace, cfg)].to_dict()
        for name, u in r["units"].items():
            assert 0 <= u["busy_cycles"] <= r["cycles"], name
            assert u["stall_cycles"] >= 0
        d = r["dram"]
        assert sum(d["bytes_by_stream"].values()) == d["bytes_read"] == d["transactions"] * 32
        assert d["bound_cycles"] <= r["cycles"]  # no run beats the DRAM bandwidth bound
        assert r["energy_pj"]["total"] == pytest.approx(sum(r["energy_pj"]["by_unit"].values()))
        cats = sum(r["energy_pj"][c] for c in ("dram", "sram", "compute", "leakage"))
        assert cats == pytest.approx(r["energy_pj"]["total"])
        layers = runs[(trace, cfg)].layers
        assert sum(row["dram_bytes"] for row in layers) == d["bytes_read"]
        assert sum(row["queries"] for row in layers) == r["pruning"]["queries"]
        assert 0 <= r["pruning"]["lsb_refetch_fraction"] <= 1
        assert r["fidelity"]["output_rel_error_mean"] >= 0


def test_dense_is_faithful_and_pruning_costs_fidelity(runs):
    de = runs[("mpnet-wiki-128.npz", "dense")]["fidelity"]
    sp = runs[("mpnet-wiki-128.npz", "spatten")]["fidelity"]
    assert de["output_rel_error_max"] < 0.01  # 12-bit fixed point only
    assert sp["output_rel_error_mean"] > de["output_rel_error_mean"]


def test_same_inputs_give_identical_json():
    a = simulate("spatten", DECODER)
    b = simulate("spatten", DECODER)
    assert json.dumps(_det(a), sort_keys=True) == json.dumps(_det(b), sort_keys=True)
    assert a.layers == b.layers


@pytest.fixture(scope="module")
def decoder_full():
    return simulate("spatten", DECODER)


@pytest.mark.parametrize(
    ("off", "check"),
    [
        # each technique switched off alone: what it saves comes back
        ("policy.token_pruning.enabled=false", "more_bytes_and_cycles"),
        ("policy.head_pruning.enabled=false", "more_bytes_and_cycles"),
        ("policy.local_v_pruning.enabled=false", "more_v_bytes"),
        ("policy.progressive_quantization.enabled=false", "more_k_bytes"),
        ("topk.comparators=1", "more_cycles"),
    ],
)
def test_each_technique_off_moves_the_figures(decoder_full, off, check):
    full = decoder_full.to_dict()
    r = simulate("spatten", DECODER, sets=[off]).to_dict()
    bs, fs = r["dram"]["bytes_by_stream"], full["dram"]["bytes_by_stream"]
    if check == "more_bytes_and_cycles":
        assert r["dram"]["bytes_read"] > full["dram"]["bytes_read"]
        assert r["cycles"] > full["cycles"]
    elif check == "more_v_bytes":
        assert bs["v"] > fs["v"]
        assert r["pruning"]["v_kept_fraction"] > full["pruning"]["v_kept_fraction"]
    elif check == "more_k_bytes":
        assert bs["k_msb"] + bs["k_lsb"] > fs["k_msb"] + fs["k_lsb"]
        assert r["pruning"]["lsb_refetch_fraction"] == 0
    elif check == "more_cycles":
        assert r["cycles"] > full["cycles"]
        assert (
            r["units"]["topk_local_v"]["busy_cycles"] > full["units"]["topk_local_v"]["busy_cycles"]
        )


def test_progressive_threshold_trades_refetches_for_bytes():
    lo = simulate("spatten", DECODER, sets=["policy.progressive_quantization.threshold=0.02"])
    hi = simulate("spatten", DECODER, sets=["policy.progressive_quantization.threshold=0.5"])
    assert hi["pruning"]["lsb_refetch_fraction"] > lo["pruning"]["lsb_refetch_fraction"]
    assert hi["dram"]["bytes_by_stream"]["k_lsb"] > lo["dram"]["bytes_by_stream"]["k_lsb"]


def test_ideal_memory_is_never_slower_than_hbm2():
    hbm = simulate("dense", DECODER)
    ideal = simulate("dense", DECODER, sets=["memory.preset=ideal"])
    assert ideal["memory_model"].startswith("ideal")
    assert ideal["dram"]["bytes_read"] == hbm["dram"]["bytes_read"]
    assert ideal["cycles"] <= hbm["cycles"]
