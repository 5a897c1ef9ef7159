"""The accuracy-cost figure of sweeps with accuracy columns (drawn from made-up rows)."""

from __future__ import annotations

import pytest

from spatten_sim.plots.accuracy import accuracy_pareto, has_accuracy, series_key
from spatten_sim.plots.data import Run
from spatten_sim.plots.style import NoData


def _run(kind: str, ratio: float, ppl: float, seconds: float, energy: float) -> Run:
    values = (
        ("policy.token_pruning.kind", kind),
        ("policy.token_pruning.budget_ratio", ratio),
    )
    row = {
        "accuracy.perplexity": ppl,
        "accuracy.perplexity_ci95_low": ppl * 0.9,
        "accuracy.perplexity_ci95_high": ppl * 1.1,
        "accuracy.dense_perplexity": 10.0,
        "accuracy.hardware.seconds": seconds,
        "accuracy.hardware.energy_pj": energy,
    }
    return Run(label=f"{kind} {ratio}", trace="t.npz", row=row, report={}, values=values)


RUNS = [
    _run(k, r, ppl, s, e)
    for k, base in (("cascade", 30.0), ("streaming", 11.0))
    for r, ppl, s, e in ((0.3, base * 1.5, 1e-3, 5e8), (0.6, base, 1.5e-3, 7e8))
]


def test_series_are_the_policies_and_the_lines_follow_the_cost() -> None:
    assert has_accuracy(RUNS)
    assert series_key(RUNS) == "policy.token_pruning.kind"
    fig = accuracy_pareto(RUNS)
    left, right = fig.axes[:2]
    # one line per policy in each panel, its points in the order of their cost
    lines = [ln for ln in left.get_lines() if ln.get_marker() not in ("None", "_", "|", None)]
    assert len(lines) == 2
    for ln in lines:
        xs = list(ln.get_xdata())
        assert xs == sorted(xs)
    assert sorted(tuple(ln.get_ydata()) for ln in lines) == [(16.5, 11.0), (45.0, 30.0)]
    assert "latency" in left.get_xlabel() and "µs" in left.get_xlabel()
    assert "energy" in right.get_xlabel() and "µJ" in right.get_xlabel()
    assert "perplexity" in left.get_ylabel()
    # the dense model's perplexity is the reference line
    assert any(list(ln.get_ydata()) == [10.0, 10.0] for ln in left.get_lines())


def test_rows_without_accuracy_have_no_figure() -> None:
    bare = [Run(label="x", trace="t", row={"seconds": 1.0}, report={})]
    assert not has_accuracy(bare)
    with pytest.raises(NoData):
        accuracy_pareto(bare)
