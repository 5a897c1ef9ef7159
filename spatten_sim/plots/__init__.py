"""Figures of runs and sweeps (``spatten-sim plot``, ``spatten-sim report``; docs/plots.md).

Python API::

    from spatten_sim.plots import plot_path
    paths = plot_path("results/topk", "plots/topk")          # every standard figure of a sweep
    paths = plot_path("runs/minilm", "plots/run", timeline=True)  # a run folder, with its Gantt
    paths = plot_path("runs/minilm", "plots/run", pruning=True)   # + the pruning heat map

    from spatten_sim.plots import figures, data
    sweep = data.load_sweep("results/topk")
    fig = figures.metric_vs_axis(sweep.runs, "topk.comparators")   # a matplotlib Figure
    style.save(fig, "topk.png")

Figures use Matplotlib's object API on the Agg canvas: no display is needed and no global state is
touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from spatten_sim.errors import SpattenError
from spatten_sim.plots import data, figures, inside, style
from spatten_sim.plots.data import load_run_dir, load_runs, load_sweep, load_timeline
from spatten_sim.pruning_map import load_pruning

__all__ = [
    "data",
    "figures",
    "inside",
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
    fmt: str = "png",
    say: Callable[[str], None] | None = style.stderr_note,
) -> list[Path]:
    """Every standard figure of a sweep results folder into ``out`` in ``fmt`` (png, pdf, svg);
    returns the paths written. A figure without data is skipped and said (``say``, default
    stderr), never written empty.

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
    # every figure is drawn before any is written: a bad input writes no file
    figs: list[style.Drawn] = []
    for axis in axes:
        zipped = next((g for g in groups or [] if axis in g), [axis])
        figs.append(
            style.draw(f"vs_{_safe(axis)}", figures.metric_vs_axis, sw.runs, axis, metrics, zipped)
        )
    fid: dict[str, set] = {}
    for r in sw.runs:
        fid.setdefault(r.trace, set()).add(data.metric(r.row, "fidelity_error"))
    if any(len(v - {None}) > 1 for v in fid.values()):
        # the fidelity varies within a trace: the accuracy-efficiency trade-off is worth a figure
        figs.append(style.draw("pareto", figures.pareto, sw.runs))
    from spatten_sim.plots import accuracy

    if accuracy.has_accuracy(sw.runs):
        figs.append(style.draw("accuracy_pareto", accuracy.accuracy_pareto, sw.runs))
    figs += _breakdowns(list(sw.runs))
    return style.write_all(figs, out, fmt, prefix=prefix, say=say)


def _breakdowns(runs: list[data.Run]) -> list[style.Drawn]:
    """The figures of runs and sweeps alike: DRAM by stream, energy by unit, kept per layer,
    the roofline."""
    return [
        style.draw("dram_by_stream", figures.dram_by_stream, runs),
        style.draw("energy_by_unit", figures.energy_by_unit, runs),
        style.draw("per_layer_kept", figures.per_layer_kept, runs),
        style.draw("roofline", figures.roofline, runs),
    ]


def plot_run(
    run_dir: str | Path,
    out: str | Path,
    *,
    timeline: bool | None = None,
    window: tuple[int, int] | str | None = None,
    prefix: str = "",
    pruning: bool = False,
    iterations: Sequence[int] | None = None,
    fmt: str = "png",
    say: Callable[[str], None] | None = style.stderr_note,
) -> list[Path]:
    """The figures of one run folder; the timeline when it has ``timeline.csv`` (``timeline``
    True: required; False: skipped), with the layer and iteration spans of ``layers.csv`` and,
    for a long run without a ``window`` (``"all"``: the whole run), an automatic one
    (:func:`spatten_sim.plots.inside.auto_window`); with ``pruning`` the heat map of the kept
    tokens and heads (``pruning.npz``; ``iterations``: the passes to draw). Written in ``fmt``;
    a figure without data is skipped and said (``say``)."""
    run = load_run_dir(run_dir)
    out = Path(out)
    # every figure is drawn before any is written: a bad input writes no file
    pruning_fig = inside.pruning_heatmap(load_pruning(run_dir), iterations) if pruning else None
    figs = _breakdowns([run])
    has_tl = (Path(run_dir) / "timeline.csv").is_file()
    if timeline or (timeline is None and has_tl):
        iv = load_timeline(run_dir)
        units = list(run.report.get("units", {})) or None
        rows = inside.load_layer_rows(run_dir)
        win, note = _timeline_window(iv, rows, run.report["cycles"], window)
        fig = figures.timeline(
            iv, window=win, units=units, total_cycles=run.report["cycles"],
            marks=inside.layer_marks(rows), note=note,
        )  # fmt: skip
        figs.append(style.Drawn("timeline", fig))
    if pruning_fig is not None:
        figs.append(style.Drawn("pruning", pruning_fig))
    return style.write_all(figs, out, fmt, prefix=prefix, say=say)


def _timeline_window(
    iv, rows, cycles: int, window: tuple[int, int] | str | None
) -> tuple[tuple[int, int] | None, str | None]:
    """The timeline's window and the title line that says which it is."""
    if window == "all":
        return None, None
    if isinstance(window, tuple):
        return window, f"cycles {window[0]:,} to {window[1]:,} (--window)"
    auto = inside.auto_window(iv, rows, cycles)
    if auto is None:
        return None, None
    (lo, hi), why = auto
    return (lo, hi), f"cycles {lo:,} to {hi:,} of {cycles:,}: {why} (automatic window)"


def plot_path(path: str | Path, out: str | Path, **kw) -> list[Path]:
    """A sweep results folder or a run folder, whichever ``path`` is."""
    p = Path(path)
    if data.is_sweep_dir(p):
        if kw.get("timeline"):
            raise SpattenError(
                f"{p}: --timeline needs a run folder (spatten-sim run ... --timeline -o DIR)"
            )
        if kw.get("pruning"):
            raise SpattenError(f"{p}: --pruning needs a run folder (spatten-sim run ... -o DIR)")
        for k in ("timeline", "window", "pruning", "iterations"):
            kw.pop(k, None)
        return plot_sweep(p, out, **kw)
    if data.is_run_dir(p):
        kw.pop("x", None)
        kw.pop("metrics", None)
        return plot_run(p, out, **kw)
    raise SpattenError(
        f"{p}: neither a sweep results folder (results.csv) nor a run folder (report.json)"
    )
