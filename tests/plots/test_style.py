"""The figure style: labels for every key the CLI offers, integer ticks, distinct series, legends
outside the data, reference lines, the three file formats, and no figure without data."""

from __future__ import annotations

import csv
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from spatten_sim.cli import main
from spatten_sim.cli.plot import DESCRIPTION
from spatten_sim.plots import figures, load_sweep, style
from spatten_sim.plots.data import METRICS, Run
from spatten_sim.plots.style import NoData

_RAW_KEY = re.compile(r"[a-z0-9]_[a-z0-9]|[a-z]\.[a-z]")  # snake_case or a dotted path


def _readable(key: str) -> None:
    q = style.quantity(key)
    text = q.label
    assert text and text != key, key
    assert not _RAW_KEY.search(text), f"{key}: {text!r} still reads like a key"


# ------------------------------------------------------------------------------ labels
def test_every_derived_metric_has_a_label_with_its_unit() -> None:
    for name in METRICS:
        q = style.LABELS[name]
        assert q.unit, name
        assert style.label(name) == f"{q.text} ({q.unit})"
    assert style.label("latency_us") == "latency (µs)"
    assert style.label("topk.comparators") == "top-k comparators per array"
    assert style.label("cfg.buffers.key_sram_bytes") == "K SRAM (KiB)"


def test_the_metrics_the_plot_help_names_have_labels() -> None:
    listed = DESCRIPTION.split("Metrics (--metric):", 1)[1].split("or any column", 1)[0]
    names = [n.strip(" ,\n") for n in listed.split(",") if n.strip(" ,\n")]
    assert set(names) == set(METRICS)
    for n in names:
        assert n in style.LABELS


def test_every_results_column_and_configuration_key_reads_as_words(sweep_dir: Path) -> None:
    with open(sweep_dir / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    skip = ("point_id", "status", "error", "trace", "trace_sha256", "report_version",
            "spatten_sim_version", "config", "memory_model")  # fmt: skip
    cols = [c for c in header if c not in skip and not c.startswith(("provenance.", "input.path"))]
    assert len(cols) > 150  # every report scalar and every configuration key
    for c in cols:
        _readable(c)
    # units where the report has them (docs/report.md)
    for key, unit in (
        ("units.qxk.utilization", "% of cycles"),
        ("units.softmax.busy_cycles", "cycles"),
        ("energy_pj.by_unit.key_sram", "µJ"),
        ("power_mw.dram", "mW"),
        ("dram.bytes_by_stream.k_lsb", "MB"),
        ("dram.p99_latency_ns", "ns"),
        ("cfg.memory.channels", ""),
        ("cfg.softmax.exp_latency_cycles", "cycles"),
        ("cfg.fetcher.data_fifo_width_bytes", "KiB"),
    ):
        assert style.quantity(key).unit == unit, key


def test_kib_formatter_and_integer_flags() -> None:
    q = style.quantity("buffers.key_sram_bytes")
    assert (q.tick(196_608), q.tick(6144), q.integer) == ("192", "6", True)
    assert style.quantity("memory.channels").integer
    assert not style.quantity("latency_us").integer


# ------------------------------------------------------------------------------ series, axes
def test_series_styles_stay_distinct_past_ten() -> None:
    pairs = [(s["color"], s["marker"]) for s in map(style.series_style, range(24))]
    assert len(set(pairs)) == 24
    assert len({s["color"] for s in map(style.series_style, range(12))}) == 12


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 - 1 and b.x0 < a.x1 - 1 and a.y0 < b.y1 - 1 and b.y0 < a.y1 - 1


def test_legends_sit_outside_the_data(sweep_dir: Path) -> None:
    sw = load_sweep(sweep_dir)
    for fig in (
        figures.metric_vs_axis(sw.runs, "memory.channels"),
        figures.energy_by_unit(sw.runs),
        figures.roofline(sw.runs),
        figures.per_layer_kept(sw.runs),
    ):
        fig.canvas.draw()
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        assert legends
        for lg in legends:
            box = lg.get_window_extent()
            for ax in fig.axes:
                assert not _overlap(box, ax.get_window_extent()), ax.get_title()


def test_integer_axes_get_integer_ticks(sweep_dir: Path) -> None:
    sw = load_sweep(sweep_dir)
    fig = figures.per_layer_kept(sw.runs)
    fig.canvas.draw()
    for ax in fig.axes:
        for ticks in (ax.get_xticks(), ax.get_yticks()):
            assert all(float(t).is_integer() for t in ticks), ticks


def test_reference_lines_and_speed_up(sweep_dir: Path) -> None:
    sw = load_sweep(sweep_dir)
    fig = figures.metric_vs_axis(
        sw.runs, "memory.channels", ["latency_us"], relative_to=2,
        marks=[("paper", 16, "paper: 16")], where="keep ratio 0.2 and 0.8",
    )  # fmt: skip
    ax = fig.axes[0]
    assert ax.get_ylabel() == "speed-up over channels 2 (x)"
    data = [ln for ln in ax.get_lines() if ln.get_gid() != style.REFERENCE_GID]
    for ln in data:
        assert ln.get_ydata()[0] == pytest.approx(1.0)  # the baseline point
        assert ln.get_ydata()[1] >= 1.0  # more channels: not slower
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == style.REFERENCE_GID]
    assert {ln.get_label() for ln in refs} >= {"paper: 16"}
    assert "keep ratio 0.2 and 0.8" in fig.get_suptitle()  # the title names the selection
    # the bounds: each is below its run's latency (no run beats them)
    for r in sw.runs:
        d, c = figures.latency_bounds_us(r)
        assert d is not None and c is not None
        assert d <= r.row["seconds"] * 1e6 and c <= r.row["seconds"] * 1e6


# ------------------------------------------------------------------------------ files
def _check_file(p: Path, fmt: str) -> None:
    data = p.read_bytes()
    assert len(data) > 1000, p
    if fmt == "png":
        assert imread(p).shape[0] > 100
    elif fmt == "pdf":
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
        assert b"CreationDate" not in data  # reproducible
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        assert b"<dc:date>" not in data


@pytest.mark.parametrize("fmt", style.FORMATS)
def test_every_format_writes_a_decodable_file(sweep_dir: Path, tmp_path: Path, fmt: str) -> None:
    sw = load_sweep(sweep_dir)
    p = style.save(figures.roofline(sw.runs), tmp_path / "roof", fmt)
    assert p.name == f"roof.{fmt}"
    _check_file(p, fmt)
    # a dotted name keeps its dots; a known suffix is replaced
    assert (
        style.output_path(tmp_path / "vs_memory.channels", fmt).name == f"vs_memory.channels.{fmt}"
    )
    assert style.output_path(tmp_path / "a.png", fmt).name == f"a.{fmt}"


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_plot_cli_format(run_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    assert main(["plot", str(run_dir), "-o", str(out), "--format", fmt]) == 0
    files = sorted(out.iterdir())
    assert [p.suffix for p in files] == [f".{fmt}"] * 5  # 4 figures + the timeline
    for p in files:
        _check_file(p, fmt)


def test_plot_cli_refuses_other_formats(run_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(run_dir), "-o", str(tmp_path), "--format", "jpg"])
    assert exc.value.code == 2
    assert "invalid choice: 'jpg'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ no data, no file
def _nan_run(run: Run, i: int) -> Run:
    row = dict(run.row)
    row.update({"seconds": math.nan, "energy_pj.total": math.nan, "cfg.memory.channels": 2**i})
    return replace(run, row=row, values=(("memory.channels", 2**i),))


def test_nan_data_writes_no_figure_and_says_why(sweep_dir: Path, tmp_path: Path) -> None:
    sw = load_sweep(sweep_dir)
    runs = [_nan_run(r, i) for i, r in enumerate(sw.runs)]
    with pytest.raises(NoData, match="no run has a finite value"):
        figures.metric_vs_axis(runs, "memory.channels")
    said: list[str] = []
    drawn = [
        style.draw("vs_memory.channels", figures.metric_vs_axis, runs, "memory.channels"),
        style.draw("pareto", figures.pareto, []),
        style.draw("roofline", figures.roofline, []),
        style.draw("energy_by_unit", figures.energy_by_unit, []),
        style.draw("per_layer_kept", figures.per_layer_kept, []),
        style.draw("dram_by_stream", figures.dram_by_stream, []),
    ]
    assert all(d.figure is None for d in drawn)
    assert style.write_all(drawn, tmp_path, "png", say=said.append) == []
    assert not list(tmp_path.iterdir())
    assert len(said) == 6
    assert said[0].startswith("skipped vs_memory.channels.png: ")
    assert "no run has a finite value" in said[0]


def test_a_figure_of_reference_lines_only_is_empty(tmp_path: Path) -> None:
    fig = style.new_figure()
    ax = fig.subplots()
    style.reference_line(ax, "paper", x=16, label="paper: saturates at 16")
    ax.plot([1, 2], [np.nan, np.nan])  # a series of missing values
    assert not style.has_data(fig)
    with pytest.raises(NoData, match="no data to draw"):
        style.save(fig, tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()
    ax.plot([1, 2], [1.0, 2.0])
    assert style.has_data(fig)


def test_write_all_removes_a_stale_figure_when_asked(tmp_path: Path) -> None:
    (tmp_path / "topk_dse.png").write_bytes(b"old")
    said: list[str] = []
    style.write_all([style.Drawn("topk_dse", None, "no sweep")], tmp_path, "png",
                    say=said.append, remove_stale=True)  # fmt: skip
    assert not (tmp_path / "topk_dse.png").exists()
    assert "older file of that name removed" in said[0]
