"""Report: local-V pruning and LSB re-fetches per stage (``pruning.summarization.*``,
``pruning.generation.*``), beside the all-query figures."""

from __future__ import annotations

import pytest

from spatten_sim.config import load_config
from spatten_sim.pipeline import simulate
from spatten_sim.shipped import find_input


@pytest.fixture(scope="module")
def dec():
    cfg = load_config("spatten", ["memory.preset=ideal"])
    return simulate(cfg, find_input("smollm2-wiki-96+16"))


def test_stage_figures_split_the_all_query_ones(dec) -> None:
    pr = dec.get("pruning")
    s, g = pr["summarization"], pr["generation"]
    assert s["queries"] + g["queries"] == pr["queries"] and g["queries"] > 0
    # spatten.yaml: local V and progressive quantization run in generation only
    assert s["v_kept_fraction"] == 1.0 and s["lsb_refetch_fraction"] == 0.0
    assert g["v_kept_fraction"] < pr["v_kept_fraction"] < 1.0
    assert g["lsb_refetch_fraction"] > pr["lsb_refetch_fraction"] > 0.0
    rows = {r["stage"]: 0 for r in dec.layers}
    for r in dec.layers:
        rows[r["stage"]] += r["requant_queries"]
    assert g["lsb_refetch_fraction"] == rows["generation"] / g["queries"]
    line = next(ln for ln in dec.summary().splitlines() if ln.startswith("queries re-fetching"))
    assert "overall" in line and "generation" in line


def test_an_encoder_has_no_generation_figures() -> None:
    r = simulate(load_config("spatten", ["memory.preset=ideal"]), find_input("minilm-sst-25"))
    g = r.get("pruning.generation")
    assert g == {"v_kept_fraction": None, "lsb_refetch_fraction": None, "queries": 0}
    assert r.get("pruning.summarization.queries") == r.get("pruning.queries")
    assert "generation" not in next(
        ln for ln in r.summary().splitlines() if ln.startswith("V rows kept")
    )
