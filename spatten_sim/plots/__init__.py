"""Figures of runs and sweeps (``spatten-sim plot``, ``spatten-sim report``; docs/plots.md).

Python API::

    from spatten_sim.plots import plot_path
    paths = plot_path("results/topk", "plots/topk")          # every standard figure of a sweep
    paths = plot_path("runs/minilm", "plots/run", timeline=True)  # a run folder, with its Gantt

    from spatten_sim.plots import figures, data
    sweep = data.load_sweep("results/topk")
    fig = figures.metric_vs_axis(sweep.runs, "topk.comparators")   # a matplotlib Figure
    style.save(fig, "topk.png")

Figures use Matplotlib's object API on the Agg canvas: no display is needed and no global state is
touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spatten_sim.errors import SpattenError
from spatten_sim.plots import data, figures, style
from spatten_sim.plots.data import load_run_dir, load_runs, load_sweep, load_timeline

__all__ = [
    "data",
    "figures",
    "load_run_dir",
    "load_runs",
    "load_sweep",
    "load_timeline",
    "plot_path",
    "plot_run",
    "plot_sweep",
    "style",
]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def plot_sweep(
    results: str | Path,
    out: str | Path,
    *,
    x: Sequence[str] = (),
    metrics: Sequence[str] = ("latency_us", "energy_uj"),
    prefix: str = "",
) -> list[Path]:
    """Every standard figure of a sweep results folder into ``out``; returns the PNG paths.

    ``x``: the axes to plot the metrics against (default: the first key of every axis group).
    """
    import json

    sw = load_sweep(results)
    if not sw.runs:
        raise SpattenError(f"{results}: no finished point to plot ({len(sw.failed)} failed)")
    out = Path(out)
    try:
        groups = json.loads((Path(results) / "manifest.json").read_text()).get("axis_groups")
    except (OSError, ValueError):
        groups = None
    if x:
        axes = list(x)
    elif groups:
        axes = [g[0] for g in groups]  # a zipped group is plotted against its first key
    else:
        axes = list(sw.axes)
    paths = []
    for axis in axes:
        zipped = next((g for g in groups or [] if axis in g), [axis])
        fig = figures.metric_vs_axis(sw.runs, axis, metrics, zipped=zipped)
        paths.append(style.save(fig, out / f"{prefix}vs_{_safe(axis)}.png"))
    fid: dict[str, set] = {}
    for r in sw.runs:
        fid.setdefault(r.trace, set()).add(data.metric(r.row, "fidelity_error"))
    if any(len(v - {None}) > 1 for v in fid.values()):
        # the fidelity varies within a trace: the accuracy-efficiency trade-off is worth a figure
        paths.append(style.save(figures.pareto(sw.runs), out / f"{prefix}pareto.png"))
    paths.append(style.save(figures.dram_by_stream(sw.runs), out / f"{prefix}dram_by_stream.png"))
    paths.append(style.save(figures.energy_by_unit(sw.runs), out / f"{prefix}energy_by_unit.png"))
    paths.append(style.save(figures.per_layer_kept(sw.runs), out / f"{prefix}per_layer_kept.png"))
    paths.append(style.save(figures.roofline(sw.runs), out / f"{prefix}roofline.png"))
    return paths


def plot_run(
    run_dir: str | Path,
    out: str | Path,
    *,
    timeline: bool | None = None,
    window: tuple[int, int] | None = None,
    prefix: str = "",
) -> list[Path]:
    """The figures of one run folder; the timeline when it has ``timeline.csv`` (``timeline``
    True: required; False: skipped)."""
    run = load_run_dir(run_dir)
    out = Path(out)
    paths = [
        style.save(figures.dram_by_stream([run]), out / f"{prefix}dram_by_stream.png"),
        style.save(figures.energy_by_unit([run]), out / f"{prefix}energy_by_unit.png"),
        style.save(figures.per_layer_kept([run]), out / f"{prefix}per_layer_kept.png"),
        style.save(figures.roofline([run]), out / f"{prefix}roofline.png"),
    ]
    has_tl = (Path(run_dir) / "timeline.csv").is_file()
    if timeline or (timeline is None and has_tl):
        iv = load_timeline(run_dir)
        units = list(run.report.get("units", {})) or None
        fig = figures.timeline(iv, window=window, units=units, total_cycles=run.report["cycles"])
        paths.append(style.save(fig, out / f"{prefix}timeline.png"))
    return paths


def plot_path(path: str | Path, out: str | Path, **kw) -> list[Path]:
    """A sweep results folder or a run folder, whichever ``path`` is."""
    p = Path(path)
    if data.is_sweep_dir(p):
        if kw.get("timeline"):
            raise SpattenError(
                f"{p}: --timeline needs a run folder (spatten-sim run ... --timeline -o DIR)"
            )
        kw.pop("timeline", None)
        kw.pop("window", None)
        return plot_sweep(p, out, **kw)
    if data.is_run_dir(p):
        kw.pop("x", None)
        kw.pop("metrics", None)
        return plot_run(p, out, **kw)
    raise SpattenError(
        f"{p}: neither a sweep results folder (results.csv) nor a run folder (report.json)"
    )
