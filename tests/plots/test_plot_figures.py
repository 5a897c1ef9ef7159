"""Each standard figure, rendered headless, shows what it should (axes, series, values)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from spatten_sim.errors import SpattenError
from spatten_sim.plots import figures, load_run_dir, load_sweep, load_timeline, style
from spatten_sim.plots.figures import figure_data, merge_intervals, pareto_mask
from spatten_sim.plots.style import UNIT_COLORS, save


def test_metric_vs_axis_series_and_values(sweep_dir, tmp_path):
    sw = load_sweep(sweep_dir)
    fig = figures.metric_vs_axis(sw.runs, "memory.channels")
    d = figure_data(fig)["axes"]
    assert [a["ylabel"] for a in d] == ["latency (µs)", "energy (µJ)"]
    assert all(a["xlabel"] == "HBM2 channels" for a in d)
    assert d[0]["title"] == "latency vs HBM2 channels"
    # one line per other-axis value (keep ratio); keys with one value are not named; the
    # latency panel has each series' DRAM and compute bounds (reference lines, not data)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() != "reference"]
    assert [(ln.get_label(), len(ln.get_xdata())) for ln in lines] == [
        ("minilm-sst-25 | token keep ratio at the last layer = 0.2", 2),
        ("minilm-sst-25 | token keep ratio at the last layer = 0.8", 2),
    ]  # fmt: skip
    refs = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "reference"]
    assert len(refs) == 2 * len(lines)
    # integer axis: ticks at the data points only
    assert list(fig.axes[0].get_xticks()) == [2, 16]
    want = sorted(
        (r.row["cfg.memory.channels"], r.row["seconds"] * 1e6)
        for r in sw.runs
        if r.row["cfg.policy.token_pruning.end_keep_ratio"] == 0.2
    )
    assert list(zip(lines[0].get_xdata(), lines[0].get_ydata(), strict=True)) == want
    assert save(fig, tmp_path / "a.png").stat().st_size > 1000


def test_metric_vs_zipped_axis_has_one_series(sweep_dir):
    sw = load_sweep(sweep_dir)
    fig = figures.metric_vs_axis(
        sw.runs,
        "buffers.key_sram_bytes",
        ["dram_mb"],
        zipped=["buffers.key_sram_bytes", "buffers.value_sram_bytes"],
    )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "K SRAM = V SRAM (KiB)"
    assert ax.get_ylabel() == "DRAM read (MB)"
    assert len(ax.get_lines()) == 4  # keep ratio x channels, each with the single SRAM value


def test_bad_axis_or_metric(sweep_dir):
    sw = load_sweep(sweep_dir)
    with pytest.raises(SpattenError, match=r"--x topk\.nope: not a configuration key"):
        figures.metric_vs_axis(sw.runs, "topk.nope")
    with pytest.raises(SpattenError, match="--metric nope: no run has this figure"):
        figures.metric_vs_axis(sw.runs, "memory.channels", ["nope"])


def test_pareto_mask():
    pts = np.array([[1, 5], [2, 2], [3, 3], [5, 1], [2, 2.5]])
    assert pareto_mask(pts).tolist() == [True, True, False, True, False]


def test_pareto_figure(sweep_dir):
    sw = load_sweep(sweep_dir)
    fig = figures.pareto(sw.runs)
    ax_e, ax_f = fig.axes[:2]
    assert ax_e.get_xlabel() == "latency (µs)" and ax_e.get_ylabel() == "energy (µJ)"
    assert ax_f.get_ylabel() == "fidelity error (attention output, relative, mean)"
    assert len(ax_e.collections[0].get_offsets()) == 4
    assert len(fig.axes) == 3  # the colour bar
    edges = ax_e.collections[0].get_edgecolors()
    front = pareto_mask(
        np.array(
            [
                [
                    r.row["seconds"],
                    r.row["energy_pj.total"],
                    r.row["fidelity.output_rel_error_mean"],
                ]
                for r in sw.runs
            ]
        )
    )
    assert sum(e[3] > 0 for e in edges) == int(front.sum()) >= 1


def test_stacked_bars_sum_to_the_totals(sweep_dir):
    sw = load_sweep(sweep_dir)
    fig = figures.dram_by_stream(sw.runs, percent=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "DRAM read (MB)"
    assert ax.get_title().startswith("DRAM traffic by stream")
    n = len(sw.runs)
    streams = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(ax.patches) == n * len(streams)
    tops = np.zeros(n)
    for p in ax.patches:
        tops[round(p.get_x() + p.get_width() / 2)] += p.get_height()
    assert tops == pytest.approx([r.report["dram"]["bytes_read"] / 1e6 for r in sw.runs])
    fig = figures.energy_by_unit(sw.runs, percent=False, grouped=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "energy (µJ)"
    tops = np.zeros(n)
    for p in ax.patches:
        tops[round(p.get_x() + p.get_width() / 2)] += p.get_height()
    by_unit = [sum(r.report["energy_pj"]["by_unit"].values()) / 1e6 for r in sw.runs]
    assert tops == pytest.approx(by_unit)
    assert by_unit == pytest.approx([r.report["energy_pj"]["total"] / 1e6 for r in sw.runs])
    # the colour of a unit is the same in every figure
    by_label = {c.get_label(): c for c in ax.containers}
    assert to_hex(by_label["QxK"].patches[0].get_facecolor()) == UNIT_COLORS["qxk"]
    assert to_hex(by_label["DRAM"].patches[0].get_facecolor()) == UNIT_COLORS["dram"]


def test_breakdowns_in_percent_with_totals(sweep_dir):
    sw = load_sweep(sweep_dir)
    n = len(sw.runs)
    for fig, total in (
        (figures.dram_by_stream(sw.runs), [r.report["dram"]["bytes_read"] / 1e6 for r in sw.runs]),
        (figures.energy_by_unit(sw.runs), [r.report["energy_pj"]["total"] / 1e6 for r in sw.runs]),
    ):
        ax = fig.axes[0]
        assert "share" in ax.get_ylabel() and "(%)" in ax.get_ylabel()
        tops = np.zeros(n)
        for p in ax.patches:
            tops[round(p.get_x() + p.get_width() / 2)] += p.get_height()
        assert tops == pytest.approx([100.0] * n)  # every run's bar is a whole, however small
        written = [float(t.get_text().split()[0]) for t in ax.texts]
        assert written == pytest.approx(total, rel=5e-3)  # the total, 3 digits, above each bar
    # the energy groups: at most 9 legend entries (13 units before)
    fig = figures.energy_by_unit(sw.runs)
    assert len(fig.axes[0].get_legend().get_texts()) <= 9


def test_per_layer_kept(sweep_dir):
    sw = load_sweep(sweep_dir)
    fig = figures.per_layer_kept(sw.runs)
    ax_t, ax_h = fig.axes
    assert ax_t.get_xlabel() == "layer" and ax_t.get_ylabel() == "tokens kept"
    assert ax_h.get_ylabel() == "heads kept"
    n_layers = sw.runs[0].report["input"]["n_layers"]
    # channels do not change pruning: one line per keep ratio, "(+1 same)"
    lines = ax_t.get_lines()
    assert len(lines) == 2
    assert all(len(ln.get_xdata()) == n_layers for ln in lines)
    assert all(ln.get_label().endswith("(+1 same)") for ln in lines)
    tok = sw.runs[0].report["pruning"]["tokens_kept_per_layer"]["summarization"]
    assert list(lines[0].get_ydata()) == tok
    # a lower keep ratio keeps fewer tokens at the last layer
    assert lines[0].get_ydata()[-1] < lines[1].get_ydata()[-1]


def test_roofline_roof_from_the_config(sweep_dir):
    sw = load_sweep(sweep_dir)
    fig = figures.roofline(sw.runs)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "operational intensity (ops per DRAM byte)"
    assert ax.get_ylabel() == "throughput (GOP/s)"
    roofs = [ln for ln in ax.get_lines() if ln.get_label().startswith("roof")]
    # 2 and 16 channels: two roofs, same 2.048 TOP/s peak (1024 multipliers x 2 ops x 1 GHz)
    assert len(roofs) == 2
    assert [max(ln.get_ydata()) for ln in roofs] == pytest.approx([2048.0, 2048.0])
    bws = sorted(float(ln.get_label().split(", ")[1].split(" ")[0]) for ln in roofs)
    assert bws == [64.0, 512.0]
    pts = [c for c in ax.collections if len(c.get_offsets())]
    assert len(pts) == 2 * len(sw.runs)  # work done + dense-equivalent per run
    r = sw.runs[0]
    x, y = pts[0].get_offsets()[0]
    th = r.report["throughput"]
    assert x == pytest.approx(th["actual_ops"] / r.report["dram"]["bytes_read"])
    assert y == pytest.approx(th["gops_actual"])


def test_timeline(run_dir, tmp_path):
    iv = load_timeline(run_dir)
    run = load_run_dir(run_dir)
    units = list(run.report["units"])
    fig = figures.timeline(iv, units=units, total_cycles=run.report["cycles"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [style.unit_name(u) for u in units]
    assert ax.get_xlabel() == "cycle"
    assert ax.get_xlim() == (0, run.report["cycles"])
    busy_units = {u for u, k, *_ in iv if k == "busy"}
    stall_units = {u for u, k, *_ in iv if k == "stall"}
    assert len(ax.collections) == len(busy_units) + len(stall_units)
    colors = {to_hex(c.get_facecolor()[0]) for c in ax.collections}
    assert UNIT_COLORS["qxk"] in colors
    # busy spans of a unit add up to its busy cycles in the report (after merging overlaps)
    qxk = merge_intervals([(a, b) for u, k, a, b in iv if u == "qxk" and k == "busy"])
    assert sum(b - a for a, b in qxk) <= run.report["units"]["qxk"]["busy_cycles"]
    zoom = figures.timeline(iv, window=(100, 2000), units=units)
    assert zoom.axes[0].get_xlim() == (100, 2000)
    with pytest.raises(SpattenError, match="empty window"):
        figures.timeline(iv, window=(5, 5))
    assert save(fig, tmp_path / "t.png").stat().st_size > 1000


def test_merge_intervals():
    assert merge_intervals([(5, 7), (0, 2), (2, 3), (6, 9)]) == [(0, 3), (5, 9)]
