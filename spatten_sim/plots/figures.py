"""The standard figures. Each function takes runs (or a timeline) and returns a Matplotlib figure.

* :func:`metric_vs_axis` -- latency / energy (or any metric) against a sweep axis;
* :func:`pareto` -- latency vs energy vs fidelity, with the Pareto-optimal points marked;
* :func:`dram_by_stream`, :func:`energy_by_unit` -- stacked bars per run;
* :func:`per_layer_kept` -- tokens and heads surviving cascade pruning at each layer;
* :func:`roofline` -- each run against the compute and memory roofs of its configuration;
* :func:`timeline` -- per-unit busy/stall occupancy (Gantt) of one run, with the layer and
  iteration spans above it (the pruning heat map: :mod:`spatten_sim.plots.inside`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogFormatter, NullFormatter

from spatten_sim.errors import SpattenError
from spatten_sim.plots.data import Run, metric, metric_label, metric_title, short_key
from spatten_sim.plots.inside import Marks, draw_marks, marks_axes
from spatten_sim.plots.style import (
    MARKERS,
    STALL_COLOR,
    STREAM_COLORS,
    color_for,
    new_figure,
    pretty,
)


def _series_name(run: Run, skip: Sequence[str]) -> str:
    keys = [k for k, _ in run.values]
    others = [f"{short_key(k, keys)}={v}" for k, v in run.values if k not in skip]
    return " | ".join([run.trace, *others])


def _plain_log_labels(axis) -> None:
    """Log-axis tick labels as plain numbers (600, not 6 x 10^2)."""
    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.4)))


def _constant_keys(runs: Sequence[Run]) -> list[str]:
    """Axis keys that take a single value over ``runs`` (not worth naming in a label)."""
    seen: dict[str, set[str]] = {}
    for r in runs:
        for k, v in r.values:
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vs in seen.items() if len(vs) == 1]


def _spans_decades(vals: Sequence[float | None]) -> bool:
    v = [x for x in vals if x is not None and x > 0]
    return len(v) > 1 and max(v) / min(v) >= 16


def metric_vs_axis(
    runs: Sequence[Run],
    axis: str,
    metrics: Sequence[str] = ("latency_us", "energy_uj"),
    zipped: Sequence[str] = (),
) -> Figure:
    """One panel per metric; x = the configuration value of ``axis`` (a key path); one line per
    trace and combination of the other axes (``zipped``: keys that advance with ``axis``)."""
    col = f"cfg.{axis}"
    if not any(col in r.row for r in runs):
        raise SpattenError(f"--x {axis}: not a configuration key of these runs")
    for m in metrics:
        if all(metric(r.row, m) is None for r in runs):
            raise SpattenError(
                f"--metric {m}: no run has this figure (a derived metric or a results.csv column)"
            )
    fig = new_figure(4.2 * len(metrics) + 0.8, 4.2)
    axs = fig.subplots(1, len(metrics), squeeze=False)[0]
    groups: dict[str, list[Run]] = {}
    skip = [axis, *zipped, *_constant_keys(runs)]
    for r in runs:
        groups.setdefault(_series_name(r, skip), []).append(r)
    xs_all = [r.row.get(col) for r in runs]
    log_x = all(isinstance(x, (int, float)) for x in xs_all) and _spans_decades(xs_all)
    for ax, m in zip(axs, metrics, strict=True):
        ys_all: list[float] = []
        for i, (name, rs) in enumerate(groups.items()):
            pts = sorted((r.row[col], metric(r.row, m)) for r in rs if metric(r.row, m) is not None)
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            ys_all += ys
            ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], label=name)
        if log_x:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if _spans_decades(ys_all):
            ax.set_yscale("log")
            _plain_log_labels(ax.yaxis)
        ax.set_xlabel(" = ".join([axis, *(k for k in zipped if k != axis)]))
        ax.set_ylabel(metric_label(m))
        ax.set_title(f"{metric_title(m)} vs {short_key(axis)}")
        ax.grid(True, alpha=0.3)
    if len(groups) > 1:
        axs[0].legend(fontsize=7)
    return fig


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Rows of ``points`` (lower is better in every column) that no other row dominates."""
    n = len(points)
    keep = np.ones(n, bool)
    for i in range(n):
        le = np.all(points <= points[i], axis=1)
        lt = np.any(points < points[i], axis=1)
        if np.any(le & lt):
            keep[i] = False
    return keep


def pareto(runs: Sequence[Run], fidelity: str = "fidelity_error") -> Figure:
    """Left: latency vs energy, colour = fidelity error; right: latency vs fidelity error.
    Points on the 3-D Pareto front (latency, energy, error; per trace) have a black edge, and each
    panel's 2-D front is drawn as a line."""
    use = [r for r in runs if metric(r.row, fidelity) is not None]
    if not use:
        raise SpattenError("pareto: no run has a fidelity figure (official CSV inputs have none)")
    fig = new_figure(11, 4.6)
    ax_e, ax_f = fig.subplots(1, 2)
    errs = np.array([metric(r.row, fidelity) for r in use])
    vmin, vmax = float(errs.min()), float(errs.max())
    sc = None
    for ti, trace in enumerate(dict.fromkeys(r.trace for r in use)):
        rs = [r for r in use if r.trace == trace]
        pts = np.array(
            [
                [metric(r.row, "latency_us"), metric(r.row, "energy_uj"), metric(r.row, fidelity)]
                for r in rs
            ]
        )
        front3 = pareto_mask(pts)
        mk = MARKERS[ti % len(MARKERS)]
        sc = ax_e.scatter(
            pts[:, 0], pts[:, 1], c=pts[:, 2], cmap="viridis", vmin=vmin, vmax=vmax, marker=mk,
            edgecolors=np.where(front3, "black", "none").tolist(), linewidths=1.2, s=42,
            label=trace,
        )  # fmt: skip
        ax_f.scatter(
            pts[:, 0], pts[:, 2], c=pts[:, 2], cmap="viridis", vmin=vmin, vmax=vmax, marker=mk,
            edgecolors=np.where(front3, "black", "none").tolist(), linewidths=1.2, s=42,
            label=trace,
        )  # fmt: skip
        for ax, cols in ((ax_e, [0, 1]), (ax_f, [0, 2])):
            sub = pts[:, cols]
            f2 = pareto_mask(sub)
            order = np.argsort(sub[f2, 0])
            ax.step(
                sub[f2, 0][order], sub[f2, 1][order], where="post", color="black", lw=0.8, alpha=0.6
            )
    ax_e.set_xlabel("latency (µs)")
    ax_e.set_ylabel("energy (µJ)")
    ax_e.set_title("Latency vs energy (colour: fidelity error)")
    ax_f.set_xlabel("latency (µs)")
    ax_f.set_ylabel(metric_label(fidelity))
    ax_f.set_title("Latency vs fidelity error")
    for ax in (ax_e, ax_f):
        ax.grid(True, alpha=0.3)
    if _spans_decades([metric(r.row, "latency_us") for r in use]):
        for ax in (ax_e, ax_f):
            ax.set_xscale("log")
    if _spans_decades([metric(r.row, "energy_uj") for r in use]):
        ax_e.set_yscale("log")
        _plain_log_labels(ax_e.yaxis)
    ax_e.legend(fontsize=7, title="trace (black edge: Pareto-optimal)", title_fontsize=7)
    if sc is not None:
        fig.colorbar(sc, ax=[ax_e, ax_f], label=metric_label(fidelity), shrink=0.9)
    return fig


def _bar_labels(runs: Sequence[Run]) -> list[str]:
    traces = {r.trace for r in runs}
    return [r.label if len(traces) == 1 else f"{r.trace}\n{r.label}" for r in runs]


def _stacked(
    runs: Sequence[Run],
    parts: dict[str, list[float]],
    colors: dict[str, str],
    ylabel: str,
    title: str,
) -> Figure:
    n = len(runs)
    fig = new_figure(min(16.0, max(5.5, 0.4 * n + 3.5)), 4.8)
    ax = fig.subplots()
    x = np.arange(n)
    bottom = np.zeros(n)
    for name, vals in parts.items():
        v = np.asarray(vals, float)
        ax.bar(x, v, bottom=bottom, color=colors[name], label=pretty(name), width=0.75)
        bottom += v
    ax.set_xticks(
        x,
        _bar_labels(runs),
        rotation=60 if n > 3 else 0,
        ha="right" if n > 3 else "center",
        fontsize=7,
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def dram_by_stream(runs: Sequence[Run]) -> Figure:
    """DRAM bytes read per run, stacked by stream (Q, K MSB, K LSB, V, ...), in MB."""
    streams: list[str] = []
    for r in runs:
        for s, b in r.report["dram"]["bytes_by_stream"].items():
            if b and s not in streams:
                streams.append(s)
    streams.sort(key=lambda s: list(STREAM_COLORS).index(s) if s in STREAM_COLORS else 99)
    parts = {
        s: [r.report["dram"]["bytes_by_stream"].get(s, 0) / 1e6 for r in runs] for s in streams
    }
    return _stacked(
        runs, parts, {s: color_for(s) for s in streams}, "DRAM read (MB)", "DRAM traffic by stream"
    )


def energy_by_unit(runs: Sequence[Run]) -> Figure:
    """Energy per run, stacked by unit (DRAM, SRAMs, datapath units, leakage), in µJ."""
    units: list[str] = []
    for r in runs:
        for u, e in r.report["energy_pj"]["by_unit"].items():
            if e and u not in units:
                units.append(u)
    parts = {u: [r.report["energy_pj"]["by_unit"].get(u, 0.0) / 1e6 for r in runs] for u in units}
    return _stacked(runs, parts, {u: color_for(u) for u in units}, "energy (µJ)", "Energy by unit")


def per_layer_kept(runs: Sequence[Run], max_series: int = 10) -> Figure:
    """Tokens (left) and heads (right) kept at each layer after cascade pruning: a line per
    distinct pruning result (runs with identical per-layer counts share one line, labelled with
    the first and how many more) and stage (generation: the mean over iterations, dashed)."""
    series: dict[str, tuple[Run, int]] = {}
    for r in runs:
        pr = r.report["pruning"]
        key = f"{r.trace}|{pr['tokens_kept_per_layer']}|{pr['heads_kept_per_layer']}"
        first, n = series.get(key, (r, 0))
        series[key] = (first, n + 1)
    items = list(series.values())
    if len(items) > max_series:  # evenly spaced subset, always the first and the last
        idx = np.unique(np.linspace(0, len(items) - 1, max_series).round().astype(int))
        items = [items[i] for i in idx]
    traces = {r.trace for r, _ in items}
    fig = new_figure(11, 4.4)
    ax_t, ax_h = fig.subplots(1, 2)
    for i, (r, n) in enumerate(items):
        pr = r.report["pruning"]
        name = r.label if len(traces) == 1 or r.trace in r.label else f"{r.trace}: {r.label}"
        if n > 1:
            name += f" (+{n - 1} same)"
        for key, ax in (("tokens_kept_per_layer", ax_t), ("heads_kept_per_layer", ax_h)):
            for stage, vals in pr[key].items():
                ls = "-" if stage == "summarization" else "--"
                ax.plot(
                    np.arange(len(vals)), vals, ls, color=f"C{i % 10}",
                    marker=MARKERS[i % len(MARKERS)], ms=3,
                    label=f"{name} ({stage})" if len(pr[key]) > 1 else name,
                )  # fmt: skip
    ax_t.set_title("Tokens kept per layer (cascade token pruning)")
    ax_t.set_ylabel("tokens kept")
    ax_h.set_title("Heads kept per layer (cascade head pruning)")
    ax_h.set_ylabel("heads kept")
    for ax in (ax_t, ax_h):
        ax.set_xlabel("layer")
        ax.grid(True, alpha=0.3)
    ax_h.legend(fontsize=6, loc="lower left")
    return fig


def roof_of(run: Run) -> tuple[float, float]:
    """(peak GOP/s, peak GB/s) of a run's configuration: every multiplier does a
    multiply-accumulate (2 ops) per cycle; the memory's peak bandwidth from the report."""
    row = run.row
    mults = row.get("cfg.qxk.multipliers", 0) + row.get("cfg.probxv.multipliers", 0)
    clock = row.get("cfg.clock_ghz") or row.get("clock_ghz", 1.0)
    return 2.0 * mults * clock, float(run.report["dram"]["peak_bandwidth_gbps"])


def roofline(runs: Sequence[Run]) -> Figure:
    """Achieved GOP/s against operational intensity (ops per DRAM byte), log-log, under the
    roofs of each configuration. Filled: the work done; hollow: dense-equivalent work (what the
    paper reports: pruning lets it exceed the roof)."""
    fig = new_figure(7.5, 5.0)
    ax = fig.subplots()
    roofs: dict[tuple[float, float], list[Run]] = {}
    for r in runs:
        peak, bw = roof_of(r)
        if peak <= 0 or bw <= 0:
            raise SpattenError(
                f"{r.label}: no multipliers or memory bandwidth in its configuration"
            )
        roofs.setdefault((peak, bw), []).append(r)
    ois = []
    for r in runs:
        b = r.report["dram"]["bytes_read"]
        ois.append(r.report["throughput"]["actual_ops"] / b if b else np.nan)
    finite = [o for o in ois if np.isfinite(o) and o > 0]
    lo = min([*finite, 1.0]) / 4
    hi = max([*finite, 1.0]) * 4
    for (peak, bw), _ in roofs.items():
        lo = min(lo, peak / bw / 8)
        hi = max(hi, peak / bw * 8)
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    # roofs from light to dark grey by bandwidth, each with its own dash pattern
    ordered = sorted(roofs, key=lambda pb: (pb[1], pb[0]))
    for i, (peak, bw) in enumerate(ordered):
        shade = 0.75 - 0.75 * (i / max(1, len(ordered) - 1)) if len(ordered) > 1 else 0.0
        ax.plot(
            xs, np.minimum(peak, bw * xs), color=str(round(shade, 3)), lw=1.4,
            ls=["-", "--", ":", "-."][i % 4], label=f"roof: {peak / 1000:g} TOP/s, {bw:g} GB/s",
        )  # fmt: skip
    traces = list(dict.fromkeys(r.trace for r in runs))
    for r, oi in zip(runs, ois, strict=True):
        if not np.isfinite(oi):
            continue
        ti = traces.index(r.trace)
        c = f"C{ti % 10}"
        th = r.report["throughput"]
        ax.scatter(
            [oi], [th["gops_actual"]], color=c, marker=MARKERS[ti % len(MARKERS)], s=36, zorder=3
        )
        ax.scatter(
            [oi], [th["gops_effective"]], facecolors="none", edgecolors=c,
            marker=MARKERS[ti % len(MARKERS)], s=36, zorder=3,
        )  # fmt: skip
    for ti, t in enumerate(traces):
        ax.scatter(
            [], [], color=f"C{ti % 10}", marker=MARKERS[ti % len(MARKERS)], label=f"{t} (work done)"
        )
    ax.scatter([], [], facecolors="none", edgecolors="gray", marker="o", label="dense-equivalent")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DRAM byte)")
    ax.set_ylabel("throughput (GOP/s)")
    ax.set_title("Roofline")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def merge_intervals(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with touching or overlapping intervals joined."""
    out: list[list[int]] = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def timeline(
    intervals: Sequence[tuple[str, str, int, int]],
    window: tuple[int, int] | None = None,
    units: Sequence[str] | None = None,
    total_cycles: int | None = None,
    marks: Marks | None = None,
    note: str | None = None,
) -> Figure:
    """Per-unit occupancy: one row per unit, busy spans in the unit's colour, stalls grey and
    hatched; x in cycles, from 0 to the run's ``total_cycles`` (or a ``window`` of cycles).
    ``marks`` (:func:`spatten_sim.plots.inside.layer_marks`) adds a band of the iteration and
    layer spans above it; ``note`` a second title line (e.g. which window is shown)."""
    if not intervals:
        raise SpattenError("timeline: no intervals recorded")
    order = list(units) if units else list(dict.fromkeys(u for u, *_ in intervals))
    last = max(b for *_, b in intervals)
    lo = 0 if window is None else window[0]
    hi = max(last, total_cycles or 0) if window is None else window[1]
    if hi <= lo:
        raise SpattenError(f"--window: empty window {lo}:{hi}")
    fig = new_figure(11, 0.45 * len(order) + 1.6 + (0.8 if marks else 0.0))
    ax, band = marks_axes(fig) if marks else (fig.subplots(), None)
    for y, unit in enumerate(order):
        for kind, color, hatch in (("busy", color_for(unit), None), ("stall", STALL_COLOR, "////")):
            spans = merge_intervals(
                [
                    (max(a, lo), min(b, hi))
                    for u, k, a, b in intervals
                    if u == unit and k == kind and b > lo and a < hi
                ]
            )
            if spans:
                ax.broken_barh(
                    [(a, b - a) for a, b in spans], (y - 0.38 if kind == "busy" else y - 0.1, 0.76 if kind == "busy" else 0.5),
                    facecolors=color, hatch=hatch, edgecolor="none" if hatch is None else "#707070",
                    linewidth=0,
                )  # fmt: skip
    ax.set_yticks(range(len(order)), [pretty(u) for u in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(lo, hi)
    ax.set_xlabel("cycle")
    (ax if band is None else band).set_title(
        "Unit occupancy over time (colour: busy, grey hatched: stalled)"
        + (f"\n{note}" if note else ""),
        fontsize=10 if note else None,
    )
    (ax if band is None else fig).legend(
        handles=[Patch(facecolor="#555555", label="busy"), Patch(facecolor=STALL_COLOR, hatch="////", label="stall")],
        fontsize=7, ncols=2,
        **({"loc": "upper right", "bbox_to_anchor": (1.0, 1.12)} if band is None
           else {"loc": "outside lower right"}),
    )  # fmt: skip
    ax.grid(True, axis="x", alpha=0.3)
    if band is not None and marks is not None:
        draw_marks(band, ax, marks, lo, hi)
    return fig


def figure_data(fig: Figure) -> dict[str, Any]:
    """What a figure shows, for tests and checks: per axes its labels and series lengths."""
    out = []
    for ax in fig.axes:
        out.append(
            {
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "lines": [
                    (ln.get_label(), len(np.asarray(ln.get_xdata()))) for ln in ax.get_lines()
                ],
                "collections": len(ax.collections),
                "bars": len(ax.patches),
            }
        )
    return {"axes": out}
