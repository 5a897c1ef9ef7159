"""The figures show what the rows measured: bars, bands, curve and watts read back from the axes;
a figure without data is not written; the figures redraw from their saved data."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.plots import style
from spatten_sim.validate import figures
from spatten_sim.validate.rows import RowResult
from spatten_sim.validate.runner import (
    PAPER_CUMULATIVE,
    BreakdownData,
    PowerData,
    SweepData,
    Validation,
)

STEPS = ("s1", "s2", "s3", "s4", "s5")
TRACE = (1.0, 0.31, 0.33, 1.0, 2.5)  # step 2 is a slowdown: 0.31x


def _row(step: int, ours: float, verdict: str, note: str) -> RowResult:
    return RowResult(
        key=f"breakdown.step{step}.trace", group="GPT-2 breakdown", quantity=f"step {step}",
        unit="x", paper=1.1, ours=ours, ratio=ours / 1.1, tolerance="ratio 0.667-1.5 (why)",
        verdict=verdict, note=note,
    )  # fmt: skip


def _bar_heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches if p.get_gid() != style.REFERENCE_GID]


def test_breakdown_gains_bands_labels_and_failing_steps() -> None:
    rows = [
        _row(2, 0.31, "fail", "a trace; busiest unit qxk 40% -> topk_local_v 95% of the cycles"),
        _row(3, 1.06, "pass", "a trace; fine"),
    ]
    fig = figures.breakdown_figure(BreakdownData(STEPS, PAPER_CUMULATIVE, TRACE, None), rows)
    ax_g, ax_c, ax_t = fig.axes
    gains = [TRACE[i] / TRACE[i - 1] for i in range(1, 5)]
    paper = [PAPER_CUMULATIVE[i] / PAPER_CUMULATIVE[i - 1] for i in range(1, 5)]
    assert _bar_heights(ax_g) == pytest.approx(paper + gains)
    assert ax_g.get_yscale() == "log"  # a slowdown shows below 1
    assert _bar_heights(ax_c) == pytest.approx(list(PAPER_CUMULATIVE) + list(TRACE))
    # value labels on every bar; the failing one says so
    labels = [t.get_text() for t in ax_g.texts]
    assert "0.31 fail" in labels and "1.06" in labels
    # the tolerance band of each judged step around the paper's gain
    bands = [p for p in ax_g.patches if p.get_gid() == style.REFERENCE_GID]
    assert len(bands) == 4
    b = bands[0]
    assert (b.get_y(), b.get_y() + b.get_height()) == pytest.approx((1.1 / 1.5, 1.1 * 1.5))
    # one annotation line per failing step, with the reason from the row's note
    text = ax_t.texts[0].get_text()
    assert text.count("• ") == 1
    assert "s2 (decoder trace): x0.31 vs the paper's x1.1" in text
    assert "busiest unit qxk 40% -> topk_local_v 95% of the cycles" in text
    assert "a trace" not in text  # only the reason part of the note


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
    assert ax.get_xlabel() == "top-k comparators per array" and "speed-up" in ax.get_ylabel()
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == list(comps)
    assert list(ax.get_lines()[1].get_xdata()) == [16, 16]  # the paper's saturation marker
    ours = ax.collections[0].get_offsets()[0]
    assert tuple(ours) == (16, 5.9)  # ours: the fewest within 2 % of the best


def test_no_sweep_no_figure(tmp_path: Path) -> None:
    with pytest.raises(style.NoData, match="full validation only"):
        figures.sweep_figure(SweepData((1, 2), None, 16))


def test_power_in_watts_as_bars() -> None:
    ours = (("ours: x", (1.0, 2.0, 3.0)),)
    fig = figures.power_figure(PowerData(("logic", "SRAM", "DRAM"), (1.36, 1.24, 5.71), ours))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "average power (W)"
    assert _bar_heights(ax) == pytest.approx([1.36, 1.0, 1.24, 2.0, 5.71, 3.0])
    totals = [t.get_text() for t in ax.texts if t.get_text().endswith(" W")]
    assert totals == ["8.30 W", "6.00 W"]  # the paper as stated; its parts add to 8.31
    assert [t.get_text() for t in ax.get_xticklabels()] == ["paper", "x"]
    ref = [ln for ln in ax.get_lines() if ln.get_gid() == style.REFERENCE_GID]
    assert ref and list(ref[0].get_ydata()) == [8.30, 8.30]


def _validation(sweep: SweepData) -> Validation:
    return Validation(
        mode="quick",
        rows=(_row(2, 0.31, "fail", "t; why"),),
        breakdown=BreakdownData(STEPS, PAPER_CUMULATIVE, TRACE, None),
        sweep=sweep,
        power=PowerData(("logic", "SRAM", "DRAM"), (1.36, 1.24, 5.71), (("ours: y", (1, 1, 1)),)),
        wall_seconds=1.0,
    )


@pytest.mark.parametrize("fmt", style.FORMATS)
def test_write_figures_skips_the_empty_one_and_redraws_from_its_data(
    tmp_path: Path, fmt: str
) -> None:
    v = _validation(SweepData((1, 2, 4), None, 16))
    (tmp_path / f"topk_dse.{fmt}").write_bytes(b"an older run's figure")
    said: list[str] = []
    paths = figures.write_figures(v, tmp_path, fmt, say=said.append)
    assert sorted(p.name for p in paths) == sorted(
        [f"breakdown.{fmt}", f"power.{fmt}", "figures.json"]
    )
    assert not (tmp_path / f"topk_dse.{fmt}").exists()  # no figure its data do not back
    assert len(said) == 1 and said[0].startswith(f"skipped topk_dse.{fmt}: ")
    for p in paths:
        assert p.stat().st_size > 500
    # validation.json beside figures.json: enough to redraw
    from spatten_sim.validate.output import rows_json

    (tmp_path / "validation.json").write_text(rows_json(v))
    back = figures.load_validation(tmp_path)
    assert back.breakdown == v.breakdown and back.power == v.power and back.sweep == v.sweep
    assert back.rows[0] == v.rows[0]
