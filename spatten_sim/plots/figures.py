"""The standard figures. Each function takes runs (or a timeline) and returns a Matplotlib figure.

* :func:`metric_vs_axis` -- latency / energy (or any metric) against a sweep axis, absolute or as
  a speed-up over a baseline point, with the DRAM and compute bounds under the latency and the
  paper's value marked;
* :func:`pareto` -- latency vs energy vs fidelity, with the Pareto-optimal points marked;
* :func:`dram_by_stream`, :func:`energy_by_unit` -- each run's breakdown in percent, its total
  written above the bar;
* :func:`per_layer_kept` -- tokens and heads surviving cascade pruning at each layer;
* :func:`roofline` -- each run against the compute and memory roofs of its configuration;
* :func:`timeline` -- per-unit busy/stall occupancy (Gantt) of one run, with the layer and
  iteration spans above it (the pruning heat map: :mod:`spatten_sim.plots.inside`).

Every figure follows :mod:`spatten_sim.plots.style` (labels with units, legends outside the data,
distinct series); a function with nothing to draw raises :class:`~spatten_sim.plots.style.NoData`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from spatten_sim.errors import SpattenError
from spatten_sim.plots.data import Run, metric
from spatten_sim.plots.inside import Marks, draw_marks, marks_axes
from spatten_sim.plots.style import (
    MARKERS,
    REFERENCE_STYLES,
    STALL_COLOR,
    STREAM_COLORS,
    NoData,
    color_for,
    format_axis,
    integer_ticks,
    label,
    legend_outside,
    new_figure,
    pretty,
    quantity,
    reference_line,
    series_style,
    short_label,
    spans_decades,
    title,
    title_of,
    trace_name,
)

#: metrics for which lower is better and a ratio to a baseline is a speed-up (baseline / value)
FASTER_IS_LOWER = ("latency_us", "cycles", "seconds")


def setting_text(key: str, value: Any, short: bool = False) -> str:
    """An axis value for a legend or a bar: ``K MSB = 6 bits``, ``HBM2 channels = 4``
    (``short``: ``MSB 6 bits``, ``channels 4``)."""
    q = quantity(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = q.tick(value)
    else:
        shown = str(value)
    unit = f" {q.unit}" if q.unit and q.unit != "fraction" else ""
    if short:
        return f"{short_label(key)} {shown}{unit}"
    return f"{q.text} = {shown}{unit}"


def _series_name(run: Run, skip: Sequence[str]) -> str:
    others = [setting_text(k, v) for k, v in run.values if k not in skip]
    return " | ".join([trace_name(run.trace), *others])


def run_name(run: Run, runs: Sequence[Run], with_trace: bool | None = None) -> str:
    """A run among ``runs``: the axis values that vary among them (and the trace when they have
    several, or ``with_trace``); a single run outside a sweep: its configuration and trace."""
    if not run.values:
        return run.label
    varying = set(_constant_keys(runs))
    parts = [setting_text(k, v, short=True) for k, v in run.values if k not in varying]
    if with_trace or (with_trace is None and len({r.trace for r in runs}) > 1):
        parts.insert(0, trace_name(run.trace))
    return "\n".join(parts) or trace_name(run.trace)


def _constant_keys(runs: Sequence[Run]) -> list[str]:
    """Axis keys that take a single value over ``runs`` (not worth naming in a label)."""
    seen: dict[str, set[str]] = {}
    for r in runs:
        for k, v in r.values:
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vs in seen.items() if len(vs) == 1]


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def latency_bounds_us(run: Run) -> tuple[float | None, float | None]:
    """(DRAM bound, compute bound) of a run in µs: the bytes read over the memory's peak
    bandwidth (``dram.bound_cycles``), and the executed QxK and probxV operations over the peak
    rate of the multipliers (2 ops per multiplier and cycle; :func:`roof_of`). No run is faster
    than either."""
    clock = run.row.get("cfg.clock_ghz") or run.row.get("clock_ghz") or 1.0
    dram = run.report.get("dram", {}).get("bound_cycles")
    peak_gops, _ = roof_of(run)
    ops = run.report.get("throughput", {}).get("actual_ops")
    d = float(dram) / (clock * 1e3) if isinstance(dram, (int, float)) else None
    c = float(ops) / peak_gops / 1e3 if isinstance(ops, (int, float)) and peak_gops > 0 else None
    return d, c


def metric_vs_axis(
    runs: Sequence[Run],
    axis: str,
    metrics: Sequence[str] = ("latency_us", "energy_uj"),
    zipped: Sequence[str] = (),
    *,
    relative_to: Any = None,
    relative_metrics: Sequence[str] | None = None,
    bounds: bool = True,
    marks: Sequence[tuple[str, float, str]] = (),
    where: str | None = None,
) -> Figure:
    """One panel per metric; x = the configuration value of ``axis`` (a key path); one line per
    trace and combination of the other axes (``zipped``: keys that advance with ``axis``).

    ``relative_to``: an ``axis`` value (or ``"first"``, the smallest): every series is divided by
    its value there -- a speed-up (baseline / value) for latency, value / baseline otherwise --
    so series whose absolute values lie decades apart share one readable axis (only the metrics of
    ``relative_metrics`` when given; the others stay absolute). ``bounds``: the
    latency panel (absolute) also shows each series' DRAM bound and compute bound
    (:func:`latency_bounds_us`). ``marks``: vertical reference lines ``(kind, x, label)``, e.g.
    ``("paper", 16, "paper: saturates at 16")``. ``where``: a second title line naming the
    selection shown."""
    if not runs:
        raise NoData("no finished run to plot")
    col = f"cfg.{axis}"
    if not any(col in r.row for r in runs):
        raise SpattenError(f"--x {axis}: not a configuration key of these runs")
    for m in metrics:
        if all(metric(r.row, m) is None for r in runs):
            raise SpattenError(
                f"--metric {m}: no run has this figure (a derived metric or a results.csv column)"
            )
    vals_ok = [m for m in metrics if any(_finite(metric(r.row, m)) for r in runs)]
    if not vals_ok:
        raise NoData(f"{', '.join(metrics)}: no run has a finite value")
    metrics = vals_ok
    fig = new_figure(4.3 * len(metrics) + 2.6, 4.3)
    axs = fig.subplots(1, len(metrics), squeeze=False)[0]
    groups: dict[str, list[Run]] = {}
    skip = [axis, *zipped, *_constant_keys(runs)]
    for r in runs:
        groups.setdefault(_series_name(r, skip), []).append(r)
    xs_all = [r.row.get(col) for r in runs]
    numeric_x = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    base_x: Any = None
    if relative_to is not None:
        base_x = min(x for x in xs_all if x is not None) if relative_to == "first" else relative_to
    any_bound = False
    for ax, m in zip(axs, metrics, strict=True):
        ys_all: list[float] = []
        faster = m in FASTER_IS_LOWER
        rel = base_x if relative_metrics is None or m in relative_metrics else None
        for i, (name, rs) in enumerate(groups.items()):
            pts = sorted(
                (r.row[col], metric(r.row, m), r) for r in rs if _finite(metric(r.row, m))
            )  # fmt: skip
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [float(p[1]) for p in pts]  # type: ignore[arg-type]
            if rel is not None:
                base = next((y for x, y in zip(xs, ys, strict=True) if x == rel), None)
                if base is None or base == 0:
                    continue
                ys = [base / y if faster else y / base for y in ys]
            st = series_style(i)
            ax.plot(xs, ys, label=name, ms=5, **st)
            ys_all += ys
            if bounds and rel is None and m == "latency_us":
                bd = [latency_bounds_us(p[2]) for p in pts]
                for j, kind in ((0, "dram"), (1, "compute")):
                    b = [v[j] for v in bd]
                    if all(_finite(v) for v in b):
                        reference_line(ax, kind, xs=xs, ys=b, color=st["color"], alpha=0.8)  # type: ignore[arg-type]
                        ys_all += b  # type: ignore[arg-type]
                        any_bound = True
        if not ys_all:
            ax.set_axis_off()
            continue
        for kind, x, text in marks:
            reference_line(ax, kind, x=x, label=text)
        if numeric_x:
            format_axis(ax, "x", axis, xs_all)
        else:
            ax.set_xlabel(label(axis))
        if len(zipped) > 1:
            q = quantity(axis)
            names = [title_of(k) for k in dict.fromkeys([axis, *zipped])]
            ax.set_xlabel(" = ".join(names) + (f" ({q.unit})" if q.unit else ""))
        if rel is not None:
            at = setting_text(axis, rel, short=True)
            what = "speed-up" if faster else f"{title_of(m)}, relative"
            format_axis(ax, "y", "speedup", ys_all, log=_spans(ys_all))
            ax.set_ylabel(f"{what} {'over' if faster else 'to'} {at} (x)")
            reference_line(ax, "baseline", y=1.0)
            panel = f"{what} vs {title_of(axis)}"
        else:
            format_axis(ax, "y", m, ys_all)
            panel = f"{title_of(m)} vs {title_of(axis)}"
        ax.set_title(panel, fontsize=10)
        ax.grid(True, alpha=0.3)
    handles, labels = axs[0].get_legend_handles_labels()
    if any_bound:
        handles += [
            Line2D([], [], color="#555555", ls=REFERENCE_STYLES["dram"]["ls"]),
            Line2D([], [], color="#555555", ls=REFERENCE_STYLES["compute"]["ls"]),
        ]
        labels += ["DRAM bound (bytes / peak bandwidth)", "compute bound (ops / peak rate)"]
    if len(handles) > 1 or any_bound or marks:
        legend_outside(fig, handles, labels, where="below", ncols=min(3, len(handles)))
    if where:
        title(fig, where, fontsize=10)
    return fig


def _spans(vals: Sequence[float]) -> bool:
    v = [x for x in vals if x > 0]
    return len(v) > 1 and max(v) / min(v) >= 16


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


def pareto(
    runs: Sequence[Run], fidelity: str = "fidelity_error", where: str | None = None
) -> Figure:
    """Left: latency vs energy, colour = fidelity error; right: latency vs fidelity error.
    Points on the 3-D Pareto front (latency, energy, error; per trace) have a black edge, and each
    panel's 2-D front is drawn as a line."""
    use = [
        r
        for r in runs
        if all(_finite(metric(r.row, k)) for k in (fidelity, "latency_us", "energy_uj"))
    ]
    if not use:
        raise NoData("pareto: no run has a fidelity figure (official CSV inputs have none)")
    fig = new_figure(11.5, 4.6)
    ax_e, ax_f = fig.subplots(1, 2)
    errs = np.array([metric(r.row, fidelity) for r in use])
    vmin, vmax = float(errs.min()), float(errs.max())
    sc = None
    handles = []
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
        edges = np.where(front3, "black", "none").tolist()
        sc = ax_e.scatter(
            pts[:, 0], pts[:, 1], c=pts[:, 2], cmap="viridis", vmin=vmin, vmax=vmax, marker=mk,
            edgecolors=edges, linewidths=1.2, s=42, label=trace_name(trace),
        )  # fmt: skip
        ax_f.scatter(
            pts[:, 0], pts[:, 2], c=pts[:, 2], cmap="viridis", vmin=vmin, vmax=vmax, marker=mk,
            edgecolors=edges, linewidths=1.2, s=42, label=trace_name(trace),
        )  # fmt: skip
        handles.append(
            Line2D([], [], ls="", marker=mk, color="#777777", mec="black", label=trace_name(trace))
        )
        for ax, cols in ((ax_e, [0, 1]), (ax_f, [0, 2])):
            sub = pts[:, cols]
            f2 = pareto_mask(sub)
            order = np.argsort(sub[f2, 0])
            ax.step(
                sub[f2, 0][order], sub[f2, 1][order], where="post", color="black", lw=0.8, alpha=0.6
            )
    lat = [metric(r.row, "latency_us") for r in use]
    log_lat = spans_decades(lat, 4.0)  # clusters of traces far apart
    format_axis(ax_e, "x", "latency_us", lat, log=log_lat)
    format_axis(ax_e, "y", "energy_uj", [metric(r.row, "energy_uj") for r in use])
    format_axis(ax_f, "x", "latency_us", lat, log=log_lat)
    format_axis(ax_f, "y", fidelity, list(errs), log=False)
    ax_e.set_title("Latency vs energy (colour: fidelity error)", fontsize=10)
    ax_f.set_title("Latency vs fidelity error", fontsize=10)
    for ax in (ax_e, ax_f):
        ax.grid(True, alpha=0.3)
    if sc is not None:
        fig.colorbar(sc, ax=[ax_e, ax_f], label=label(fidelity), shrink=0.9)
    handles.append(Line2D([], [], color="black", lw=0.8, label="Pareto front of the panel"))
    legend_outside(fig, handles, title="trace (black edge: Pareto-optimal)", where="below",
                   ncols=min(4, len(handles)))  # fmt: skip
    if where:
        title(fig, where, fontsize=10)
    return fig


def _bar_labels(runs: Sequence[Run]) -> list[str]:
    return [run_name(r, runs) for r in runs]


def _stacked(
    runs: Sequence[Run],
    parts: dict[str, list[float]],
    colors: dict[str, str],
    names: dict[str, str],
    totals: Sequence[float],
    total_text: str,
    ylabel: str,
    panel_title: str,
    percent: bool,
    where: str | None,
) -> Figure:
    n = len(runs)
    fig = new_figure(min(16.0, max(6.5, 0.42 * n + 5.0)), 4.8)
    ax = fig.subplots()
    x = np.arange(n)
    bottom = np.zeros(n)
    tot = np.asarray(totals, float)
    for key, vals in parts.items():
        v = np.asarray(vals, float)
        if percent:
            v = np.divide(100.0 * v, tot, out=np.zeros(n), where=tot > 0)
        ax.bar(x, v, bottom=bottom, color=colors[key], label=names[key], width=0.75)
        bottom += v
    for xi, (top, t) in enumerate(zip(bottom, tot, strict=True)):
        ax.text(xi, top, total_text.format(t), ha="center", va="bottom", fontsize=6.5,
                rotation=90 if n > 8 else 0)  # fmt: skip
    ax.set_xticks(
        x, _bar_labels(runs), rotation=60 if n > 3 else 0,
        ha="right" if n > 3 else "center", fontsize=7,
    )  # fmt: skip
    ax.set_ylabel(ylabel)
    if percent:
        ax.set_ylim(0, 118 if n > 8 else 110)
        ax.set_yticks(range(0, 101, 20))
    else:
        ax.set_ylim(0, float(bottom.max()) * 1.15 if bottom.size and bottom.max() > 0 else 1)
    title(ax, panel_title, where)
    ax.grid(True, axis="y", alpha=0.3)
    legend_outside(ax)
    return fig


def dram_by_stream(runs: Sequence[Run], percent: bool = True, where: str | None = None) -> Figure:
    """DRAM bytes read per run by stream (Q, K MSB, K LSB, V, ...): each run's split in percent
    of its bytes (``percent``; else MB), its total in MB above the bar."""
    if not runs:
        raise NoData("dram_by_stream: no run")
    streams: list[str] = []
    for r in runs:
        for s, b in r.report["dram"]["bytes_by_stream"].items():
            if b and s not in streams:
                streams.append(s)
    if not streams:
        raise NoData("dram_by_stream: no run read any DRAM byte")
    streams.sort(key=lambda s: list(STREAM_COLORS).index(s) if s in STREAM_COLORS else 99)
    parts = {
        s: [r.report["dram"]["bytes_by_stream"].get(s, 0) / 1e6 for r in runs] for s in streams
    }
    totals = [r.report["dram"]["bytes_read"] / 1e6 for r in runs]
    return _stacked(
        runs, parts, {s: color_for(s) for s in streams}, {s: pretty(s) for s in streams}, totals,
        "{:.3g} MB", "share of DRAM bytes read (%)" if percent else "DRAM read (MB)",
        "DRAM traffic by stream (total above each bar)", percent, where,
    )  # fmt: skip


#: the energy breakdown's groups of units (at most 8 legend entries): name -> (units, colour)
ENERGY_GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "DRAM": (("dram",), "#08306b"),
    "K/V SRAM": (("key_sram", "value_sram"), "#ff9896"),
    "QxK + probxV": (("qxk", "probxv"), "#d62728"),
    "softmax": (("softmax", "softmax_div"), "#ff7f0e"),
    "top-k engines": (("topk_local_v", "topk_token_head"), "#9467bd"),
    "fetcher + converter": (("fetcher", "bitwidth_converter"), "#1f77b4"),
    "decision + accumulators": (("progressive_decision", "importance_accumulators"), "#bcbd22"),
    "leakage": (("leakage",), "#7f7f7f"),
}


def energy_by_unit(
    runs: Sequence[Run], percent: bool = True, grouped: bool = True, where: str | None = None
) -> Figure:
    """Energy per run by unit: each run's split in percent of its energy (``percent``; else µJ),
    its total in µJ above the bar. ``grouped``: units in the 8 groups of
    :data:`ENERGY_GROUPS` (K and V SRAM together, the two top-k engines together ...)."""
    if not runs:
        raise NoData("energy_by_unit: no run")
    units: list[str] = []
    for r in runs:
        for u, e in r.report["energy_pj"]["by_unit"].items():
            if e and u not in units:
                units.append(u)
    if not units:
        raise NoData("energy_by_unit: no run has any energy")

    def of(r: Run, u: str) -> float:
        return float(r.report["energy_pj"]["by_unit"].get(u, 0.0)) / 1e6

    if grouped:
        known = {u for us, _ in ENERGY_GROUPS.values() for u in us}
        groups = {g: us for g, (us, _) in ENERGY_GROUPS.items()}
        groups["other"] = tuple(u for u in units if u not in known)
        parts = {g: [sum(of(r, u) for u in us) for r in runs] for g, us in groups.items()}
        parts = {g: v for g, v in parts.items() if any(v)}
        colors = {g: ENERGY_GROUPS[g][1] if g in ENERGY_GROUPS else "#cccccc" for g in parts}
        names = {g: g for g in parts}
    else:
        parts = {u: [of(r, u) for r in runs] for u in units}
        colors = {u: color_for(u) for u in units}
        names = {u: pretty(u) for u in units}
    totals = [r.report["energy_pj"]["total"] / 1e6 for r in runs]
    return _stacked(
        runs, parts, colors, names, totals, "{:.3g} µJ",
        "share of energy (%)" if percent else "energy (µJ)",
        "Energy by unit (total above each bar)", percent, where,
    )  # fmt: skip


def per_layer_kept(runs: Sequence[Run], max_series: int = 12, where: str | None = None) -> Figure:
    """Tokens (left) and heads (right) kept at each layer after cascade pruning: a line per
    distinct pruning result (runs with identical per-layer counts share one line, labelled with
    the first and how many more) and stage (generation: the mean over iterations, dashed)."""
    series: dict[str, tuple[Run, int]] = {}
    for r in runs:
        pr = r.report["pruning"]
        if not any(pr["tokens_kept_per_layer"].values()):
            continue
        key = f"{r.trace}|{pr['tokens_kept_per_layer']}|{pr['heads_kept_per_layer']}"
        first, n = series.get(key, (r, 0))
        series[key] = (first, n + 1)
    items = list(series.values())
    if not items:
        raise NoData("per_layer_kept: no run has per-layer pruning counts")
    if len(items) > max_series:  # evenly spaced subset, always the first and the last
        idx = np.unique(np.linspace(0, len(items) - 1, max_series).round().astype(int))
        items = [items[i] for i in idx]
    traces = {r.trace for r, _ in items}
    fig = new_figure(12, 4.4)
    ax_t, ax_h = fig.subplots(1, 2)
    for i, (r, n) in enumerate(items):
        pr = r.report["pruning"]
        name = run_name(r, [x for x, _ in items], with_trace=len(traces) > 1).replace("\n", ", ")
        if n > 1:
            name += f" (+{n - 1} same)"
        st = series_style(i)
        for key, ax in (("tokens_kept_per_layer", ax_t), ("heads_kept_per_layer", ax_h)):
            for stage, vals in pr[key].items():
                ls = "-" if stage == "summarization" else "--"
                ax.plot(
                    np.arange(len(vals)), vals, ls, color=st["color"], marker=st["marker"], ms=3,
                    label=f"{name} ({stage})" if len(pr[key]) > 1 else name,
                )  # fmt: skip
    ax_t.set_title("Tokens kept per layer (cascade token pruning)", fontsize=10)
    ax_t.set_ylabel("tokens kept")
    ax_h.set_title("Heads kept per layer (cascade head pruning)", fontsize=10)
    ax_h.set_ylabel("heads kept")
    for ax in (ax_t, ax_h):
        ax.set_xlabel("layer")
        integer_ticks(ax, "x")
        integer_ticks(ax, "y")
        ax.grid(True, alpha=0.3)
    n_lines = len(ax_t.get_legend_handles_labels()[0])
    legend_outside(fig, where="below", ncols=min(4, max(1, n_lines)))
    if where:
        title(fig, where, fontsize=10)
    return fig


def roof_of(run: Run) -> tuple[float, float]:
    """(peak GOP/s, peak GB/s) of a run's configuration: every multiplier does a
    multiply-accumulate (2 ops) per cycle; the memory's peak bandwidth from the report."""
    row = run.row
    mults = row.get("cfg.qxk.multipliers", 0) + row.get("cfg.probxv.multipliers", 0)
    clock = row.get("cfg.clock_ghz") or row.get("clock_ghz", 1.0)
    return 2.0 * mults * clock, float(run.report["dram"]["peak_bandwidth_gbps"])


def roofline(runs: Sequence[Run], where: str | None = None) -> Figure:
    """Achieved GOP/s against operational intensity (ops per DRAM byte), log-log, under the
    roofs of each configuration. Filled: the work done; hollow: dense-equivalent work (what the
    paper reports: pruning lets it exceed the roof)."""
    use = [r for r in runs if r.report["dram"]["bytes_read"]]
    if not use:
        raise NoData("roofline: no run read any DRAM byte")
    fig = new_figure(8.8, 5.0)
    ax = fig.subplots()
    roofs: dict[tuple[float, float], list[Run]] = {}
    for r in use:
        peak, bw = roof_of(r)
        if peak <= 0 or bw <= 0:
            raise SpattenError(
                f"{r.label}: no multipliers or memory bandwidth in its configuration"
            )
        roofs.setdefault((peak, bw), []).append(r)
    ois = [r.report["throughput"]["actual_ops"] / r.report["dram"]["bytes_read"] for r in use]
    finite = [o for o in ois if np.isfinite(o) and o > 0]
    lo = min([*finite, 1.0]) / 4
    hi = max([*finite, 1.0]) * 4
    for peak, bw in roofs:
        lo = min(lo, peak / bw / 8)
        hi = max(hi, peak / bw * 8)
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    # roofs from light to dark grey by bandwidth, each with its own dash pattern
    ordered = sorted(roofs, key=lambda pb: (pb[1], pb[0]))
    for i, (peak, bw) in enumerate(ordered):
        shade = 0.75 - 0.75 * (i / max(1, len(ordered) - 1)) if len(ordered) > 1 else 0.0
        line = ax.plot(
            xs, np.minimum(peak, bw * xs), color=str(round(shade, 3)), lw=1.4,
            ls=["-", "--", ":", "-."][i % 4], label=f"roof: {peak / 1000:g} TOP/s, {bw:g} GB/s",
        )  # fmt: skip
        line[0].set_gid("reference")
    traces = list(dict.fromkeys(r.trace for r in use))
    for r, oi in zip(use, ois, strict=True):
        if not np.isfinite(oi):
            continue
        st = series_style(traces.index(r.trace))
        th = r.report["throughput"]
        ax.scatter([oi], [th["gops_actual"]], color=st["color"], marker=st["marker"], s=36,
                   zorder=3)  # fmt: skip
        ax.scatter(
            [oi], [th["gops_effective"]], facecolors="none", edgecolors=st["color"],
            marker=st["marker"], s=36, zorder=3,
        )  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    for ti, t in enumerate(traces):
        st = series_style(ti)
        handles.append(Line2D([], [], ls="", color=st["color"], marker=st["marker"]))
        labels.append(f"{trace_name(t)} (work done)")
    handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="gray"))
    labels.append("dense-equivalent (hollow)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DRAM byte)")
    ax.set_ylabel("throughput (GOP/s)")
    title(ax, "Roofline", where)
    ax.grid(True, which="both", alpha=0.25)
    legend_outside(ax, handles, labels)
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
        raise NoData("timeline: no intervals recorded")
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
    integer_ticks(ax, "x")
    (ax if band is None else band).set_title(
        "Unit occupancy over time (colour: busy, grey hatched: stalled)"
        + (f"\n{note}" if note else ""),
        fontsize=10,
    )
    (ax if band is None else fig).legend(
        handles=[Patch(facecolor="#555555", label="busy"), Patch(facecolor=STALL_COLOR, hatch="////", label="stall")],
        fontsize=7, ncols=2, frameon=False,
        **({"loc": "lower right", "bbox_to_anchor": (1.0, 1.0)} if band is None
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
