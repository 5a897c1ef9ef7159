"""The functional phase fed a layer at a time (as the accuracy loop feeds it) equals the whole run.

The accuracy loop writes each layer's Q/K/V into an all-zero trace just before the functional phase
computes that layer, quantizing the new rows with calibrated scales; these tests replay a shipped
trace that way and require the identical workload and attention outputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.algo.functional import (
    FunctionalBuilder,
    calibrate_scales,
    functional_result,
    run_functional,
)
from spatten_sim.config import load_config
from spatten_sim.shipped import resolve_input
from spatten_sim.trace import Trace, load_trace
from spatten_sim.workload import first_difference


def _zeroed(trace: Trace) -> Trace:
    return dataclasses.replace(
        trace,
        q=np.zeros_like(trace.q, dtype=np.float32),
        k=np.zeros_like(trace.k, dtype=np.float32),
        v=np.zeros_like(trace.v, dtype=np.float32),
    )


def _stepped(trace: Trace, cfg) -> tuple:
    """Feed ``trace`` into a zeroed copy one pass and one layer at a time."""
    m = trace.meta
    live = _zeroed(trace)
    b = FunctionalBuilder(
        live, cfg, None, keep_outputs=True, scales=calibrate_scales(trace, cfg), fidelity=False
    )
    b.quantize_all()
    passes = [("summarization", 0, 0, m.prompt_tokens)]
    passes += [
        ("generation", t, m.prompt_tokens + t - 1, m.prompt_tokens + t)
        for t in range(1, m.generated_tokens + 1)
    ]
    for stage, it, lo, hi in passes:
        layers = b.pass_layers(stage, it)  # type: ignore[arg-type]
        for layer in range(m.n_layers):
            for name in ("q", "k", "v"):
                getattr(live, name)[layer][:, lo:hi] = getattr(trace, name)[layer][:, lo:hi]
            b.quantize_rows(layer, slice(lo, hi))
            assert next(layers) == layer
        assert next(layers, None) is None
    return functional_result(b, cfg), b


@pytest.mark.parametrize(
    "name,preset",
    [("smollm2-wiki-96+16", "spatten"), ("minilm-sst-25", "spatten"), ("mpnet-wiki-128", "dense")],
)
def test_stepped_equals_whole_run(name: str, preset: str) -> None:
    trace = load_trace(resolve_input(name))
    cfg = load_config(preset)
    whole = run_functional(trace, cfg, keep_outputs=True, fidelity=False)
    stepped, _ = _stepped(trace, cfg)
    assert first_difference(whole.workload, stepped.workload) is None
    assert whole.outputs.keys() == stepped.outputs.keys()
    for key, (qa, oa) in whole.outputs.items():
        qb, ob = stepped.outputs[key]
        assert np.array_equal(qa, qb) and np.array_equal(oa, ob), key


def test_calibrated_scales_equal_the_default() -> None:
    """Handing the trace's own scales back in changes nothing (and the fidelity is optional)."""
    trace = load_trace(resolve_input("minilm-sst-25"))
    cfg = load_config("spatten")
    a = run_functional(trace, cfg)
    b = run_functional(trace, cfg, scales=calibrate_scales(trace, cfg))
    assert first_difference(a.workload, b.workload) is None
    assert a.workload.fidelity == b.workload.fidelity


def test_scales_saturate_values_beyond_the_range() -> None:
    """Calibrated scales smaller than the data clip the codes at the largest code."""
    from spatten_sim.algo.quant import QuantSpec, quantize

    spec = QuantSpec(4, 0)
    fp = quantize(np.array([[[0.5, 3.0, -9.0]]]), spec, (-2, -1), np.array([0.1]).reshape(-1, 1, 1))
    assert fp.code.tolist() == [[[5, 7, -7]]]


def test_rows_need_calibrated_scales() -> None:
    trace = load_trace(resolve_input("minilm-sst-25"))
    b = FunctionalBuilder(trace, load_config("spatten"), None)
    b.quantize_all()
    with pytest.raises(ValueError, match="calibrated scales"):
        b.quantize_rows(0, slice(0, 1))
