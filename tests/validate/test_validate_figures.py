"""The figures show what the rows measured: bars, curve and pies read back from the axes."""

from __future__ import annotations

import pytest

from spatten_sim.validate import figures
from spatten_sim.validate.runner import PAPER_CUMULATIVE, BreakdownData, PowerData, SweepData

STEPS = ("s1", "s2", "s3", "s4", "s5")


def test_breakdown_bars() -> None:
    trace = (1.0, 1.5, 1.6, 4.0, 9.0)
    fig = figures.breakdown_figure(BreakdownData(STEPS, PAPER_CUMULATIVE, trace, None))
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx(list(PAPER_CUMULATIVE) + list(trace))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(STEPS)
    assert "speedup" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "paper (GPT-2)",
        "ours: decoder trace",
    ]


def test_paper_cumulative_is_the_papers_product() -> None:
    assert PAPER_CUMULATIVE[-1] == pytest.approx(1.1 * 1.1 * 3 * 2.8)


def test_sweep_curve() -> None:
    comps = (1, 2, 4, 8, 16, 32, 64)
    speed = (1.0, 1.9, 3.5, 5.0, 5.9, 6.0, 6.0)
    fig = figures.sweep_figure(SweepData(comps, speed, 16))
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == list(comps)
    assert list(line.get_ydata()) == pytest.approx(speed)
    assert ax.get_xlabel() == "top-k comparators" and "speedup" in ax.get_ylabel()
    assert ax.get_xscale() == "log"
    assert list(ax.get_lines()[1].get_xdata()) == [16, 16]  # the paper's saturation marker


def test_power_pies() -> None:
    ours = (("ours: x", (1.0, 2.0, 3.0)),)
    fig = figures.power_figure(PowerData(("logic", "SRAM", "DRAM"), (1.36, 1.24, 5.71), ours))
    assert len(fig.axes) == 2
    paper_labels = [t.get_text() for t in fig.axes[0].texts if "W" in t.get_text()]
    assert paper_labels == ["logic 1.36 W", "SRAM 1.24 W", "DRAM 5.71 W"]
    ours_labels = [t.get_text() for t in fig.axes[1].texts if "W" in t.get_text()]
    assert ours_labels == ["logic 1.00 W", "SRAM 2.00 W", "DRAM 3.00 W"]
    assert "6.00 W" in fig.axes[1].get_title()
