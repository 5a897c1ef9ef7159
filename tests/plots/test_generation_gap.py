"""plots/generation_gap.py: every variant is a valid override set, and one variant runs.

The study itself (9 GPT-2-Medium replays, ~90 s) is documented in docs/validation.md; here we check
that its overrides still name real config fields and that a relaxed variant really is faster than
the shipped preset on a shipped decoder trace.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spatten_sim.config import load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gap():
    spec = importlib.util.spec_from_file_location(
        "generation_gap", REPO / "plots/generation_gap.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_variant_is_a_valid_config(gap):
    base = load_config(REPO / "hw_configs/spatten.yaml")
    for name, sets in gap.VARIANTS:
        cfg = load_config(REPO / "hw_configs/spatten.yaml", list(sets))
        assert (cfg == base) == (not sets), name


def test_pass_through_softmax_shortens_generation(gap):
    trace = str(REPO / "traces/smollm2-wiki-96+16.npz")
    shipped = gap.run_variant(("shipped", (), trace))
    relaxed = gap.run_variant(("pass-through", gap.PASS_THROUGH_SOFTMAX, trace))
    assert relaxed["dram_bytes"] == shipped["dram_bytes"]  # timing only: the same fetches
    assert relaxed["cycles"] < shipped["cycles"]
    assert shipped["x_dram_bound"] > relaxed["x_dram_bound"] >= 1.0
