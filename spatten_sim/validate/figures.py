"""The validation figures: the GPT-2 breakdown, the top-k design space, the power split.

* :func:`breakdown_figure` -- left: the gain of each ablation step, ours beside the paper's, on a
  log axis (a slowdown shows below 1), each bar labelled with its value, the tolerance band of
  each row shaded around the paper's value, and a line under the figure for every failing step
  with the reason from its row's note; right: the cumulative speed-up over the dedicated
  datapath (the paper's figure).
* :func:`sweep_figure` -- speed-up over one comparator against the top-k comparators, the
  paper's saturation and ours marked.
* :func:`power_figure` -- power in W as stacked bars (logic, SRAM, DRAM) per source, the total
  above each bar and the paper's 8.30 W with its tolerance band.

Each ``*_figure`` returns a Matplotlib figure drawn from the run's data (tests read the bars and
lines back) or raises :class:`~spatten_sim.plots.style.NoData` when it has nothing to show (the
comparator sweep of a ``--quick`` run). :func:`write_figures` saves those with data in the
chosen format and ``figures.json``, the figures' data, which :func:`load_validation` reads back
so that the figures can be redrawn without re-running (``plots/make_all.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from spatten_sim.errors import SpattenError
from spatten_sim.plots import style
from spatten_sim.validate.rows import RowResult, Tolerance, all_rows
from spatten_sim.validate.runner import BreakdownData, PowerData, SweepData, Validation

#: the figures' file names (without the format's suffix)
FIGURE_NAMES = ("breakdown", "topk_dse", "power")
#: the figures' data, beside them
DATA_FILE = "figures.json"

_SOURCES = (
    ("trace", "ours: decoder trace", "#4477aa"),
    ("csv", "ours: GPT-2-Medium CSV replay", "#228833"),
)
_PAPER_COLOR = "#bbbbbb"
#: the paper's total power (its parts, rounded, add up to 8.31 W)
PAPER_TOTAL_W = 8.30


def _tolerance(key: str) -> Tolerance | None:
    for spec in all_rows():
        if spec.key == key:
            return spec.tolerance
    return None


def _gains(cum: Sequence[float] | None) -> list[float] | None:
    if cum is None:
        return None
    return [cum[i] / cum[i - 1] for i in range(1, len(cum))]


def _const(text: str) -> Callable[[float], str]:
    """A bar-label formatter that writes ``text`` whatever the value."""
    return lambda _v: text


def _reason(note: str) -> str:
    """The reason part of a breakdown row's note (after its last ``; ``)."""
    return note.rsplit("; ", 1)[-1] if "; " in note else note


def breakdown_figure(d: BreakdownData, rows: Sequence[RowResult] = ()) -> Figure:
    """Step gains (left, log axis) and cumulative speed-ups (right) of ours and the paper's.

    ``rows``: the validation rows; a step's row (``breakdown.step<N>.<source>``) gives the
    tolerance band drawn around the paper's gain, whether the bar fails (red edge, hatched) and
    the reason written under the figure. A step that does not apply to a source (a CSV replay
    carries the recorded decisions) is drawn hollow with "n/a"."""
    by_key = {r.key: r for r in rows}
    series: list[tuple[str, str | None, str, list[float]]] = [
        ("paper (GPT-2)", None, _PAPER_COLOR, list(d.paper))
    ]
    for source, source_name, source_color in _SOURCES:
        values = getattr(d, source)
        if values is not None:
            series.append((source_name, source, source_color, list(values)))
    steps = list(d.steps[1:])
    fails: list[str] = []
    fig = style.new_figure(13.0, 5.6)
    gs = fig.add_gridspec(2, 2, width_ratios=[1.35, 1.0], height_ratios=[5.0, 1.0])
    ax_g, ax_c = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    ax_t = fig.add_subplot(gs[1, :])
    ax_t.set_axis_off()
    n = len(series)
    width = 0.8 / n
    xs = np.arange(len(steps))
    gains_all: list[float] = []
    for i, (name, src, color, cum) in enumerate(series):
        gains = _gains(cum) or []
        off = (i - (n - 1) / 2) * width
        for j, g in enumerate(gains):
            key = f"breakdown.step{j + 2}.{src}" if src else ""
            row = by_key.get(key)
            na = row is not None and row.ours is None
            fail = row is not None and row.verdict == "fail"
            tol = _tolerance(key) if src else None
            paper = d.paper[j + 1] / d.paper[j]
            if tol is not None and not na:
                lo = paper * (tol.lo if tol.lo is not None else 0.01)
                hi = paper * (tol.hi if tol.hi is not None else 100.0)
                band = Rectangle((xs[j] + off - width / 2, lo), width, hi - lo,
                                 facecolor=color, alpha=0.13, lw=0, zorder=0.5)  # fmt: skip
                band.set_gid(style.REFERENCE_GID)
                ax_g.add_patch(band)
            bars = ax_g.bar(
                [xs[j] + off], [g], width * 0.92, color="none" if na else color,
                edgecolor="#b2182b" if fail else (color if na else "none"),
                linewidth=1.6 if fail else 1.0, hatch="///" if fail else None,
                label=name if j == 0 else None, zorder=2,
            )  # fmt: skip
            text = f"{g:.2f}" + (" n/a" if na else "") + (" fail" if fail else "")
            style.bar_labels(ax_g, bars, _const(text), rotation=90, fontsize=6.5)
            gains_all.append(g)
            if fail and row is not None:
                fails.append(
                    f"{steps[j]} ({name.removeprefix('ours: ')}): x{g:.2f} vs the paper's "
                    f"x{paper:.2g} (band {row.tolerance.split(' (')[0]}): {_reason(row.note)}"
                )
        off_c = (i - (n - 1) / 2) * width
        bars = ax_c.bar(np.arange(len(cum)) + off_c, cum, width * 0.92, color=color, label=name)
        style.bar_labels(ax_c, bars, lambda v: f"{v:.2f}", rotation=90, fontsize=6.5)
    style.reference_line(ax_g, "baseline", y=1.0)
    ax_g.set_yscale("log")
    top = max([*gains_all, 4.0]) * 2.2
    ax_g.set_ylim(min([*gains_all, 1.0]) / 1.8, top)
    ax_g.set_xticks(xs, steps, rotation=12, fontsize=8)
    style.format_axis(ax_g, "y", "speedup", [0.25, 0.5, 1, 2, 4, 8], log=True)
    ax_g.set_ylabel("gain of the step over the previous one (x, log)")
    style.title(ax_g, "Step by step: each step's gain",
                "shaded: each row's tolerance band; below 1: a slowdown")  # fmt: skip
    ax_c.set_yscale("log")
    ax_c.set_xticks(np.arange(len(d.steps)), d.steps, rotation=12, fontsize=8)
    ax_c.set_ylabel("speed-up over the dedicated datapath (x, log)")
    allc = [v for _, _, _, c in series for v in c]
    ax_c.set_ylim(min([*allc, 1.0]) / 1.5, max(allc) * 2.2)
    style.format_axis(ax_c, "y", "speedup", [1, 2, 4, 8], log=True)
    ax_c.set_ylabel("speed-up over the dedicated datapath (x, log)")
    style.title(ax_c, "Cumulative (the paper's figure)")
    for ax in (ax_g, ax_c):
        ax.grid(True, axis="y", which="both", alpha=0.25)
    handles = [Patch(facecolor=c, label=nm) for nm, _, c, _ in series]
    handles.append(
        Patch(facecolor="none", edgecolor="#b2182b", hatch="///", label="fails its band")
    )
    ax_t.legend(handles=handles, loc="upper center", ncols=len(handles), fontsize=8,
                frameon=False)  # fmt: skip
    text = "Failing steps:\n" + "\n".join(f"• {t}" for t in fails) if fails else "No step fails."
    ax_t.text(0.0, 0.55, text, fontsize=7.5, va="top", ha="left", transform=ax_t.transAxes)
    if len(fails) > 2:
        fig.set_figheight(5.6 + 0.18 * (len(fails) - 2))
    style.title(fig, "GPT-2 speed-up breakdown: ours vs the paper")
    return fig


def sweep_figure(d: SweepData) -> Figure:
    """Speed-up over 1 comparator vs top-k comparators (log2 x); the paper's saturation (16)
    and ours (the fewest comparators within 2 % of the best) marked."""
    if d.speedup is None or not any(math.isfinite(v) for v in d.speedup):
        raise style.NoData(
            "the top-k comparator sweep (GPT-2-Small CSV) runs in the full validation only "
            "(spatten-sim validate without --quick)"
        )
    fig = style.new_figure(7.6, 4.2)
    ax = fig.subplots()
    ax.plot(d.comparators, d.speedup, label="ours: GPT-2-Small CSV (generation)",
            **style.series_style(0))  # fmt: skip
    best = max(d.speedup)
    ours = min(c for c, s in zip(d.comparators, d.speedup, strict=True) if s >= best / 1.02)
    style.reference_line(ax, "paper", x=d.paper_saturation,
                         label=f"paper: saturates at {d.paper_saturation}")  # fmt: skip
    y_ours = d.speedup[list(d.comparators).index(ours)]
    ax.scatter([ours], [y_ours], s=160, facecolors="none", edgecolors="#b2182b", lw=1.6,
               zorder=4, label=f"ours: within 2 % of the best from {ours}")  # fmt: skip
    ax.annotate(f"ours: {ours}", (ours, y_ours), xytext=(8, -18), textcoords="offset points",
                fontsize=8, color="#b2182b")  # fmt: skip
    style.format_axis(ax, "x", "topk.comparators", d.comparators)
    style.format_axis(ax, "y", "speedup", d.speedup, log=False)
    ax.set_ylabel("speed-up over 1 comparator (x)")
    style.title(ax, "Top-k engine design space", "spatten.yaml replaying the GPT-2-Small CSV")
    ax.grid(True, alpha=0.3)
    style.legend_outside(ax)
    return fig


def power_figure(d: PowerData) -> Figure:
    """Power in W per source (the paper, then our runs), stacked logic / SRAM / DRAM, the total
    above each bar; the paper's total as a line with the total row's band (0.7-1.43x)."""
    bars = [("paper", d.paper), *((n.removeprefix("ours: "), v) for n, v in d.ours)]
    fig = style.new_figure(8.8, 4.6)
    ax = fig.subplots()
    colors = {"logic": "#d62728", "SRAM": "#ff9896", "DRAM": "#08306b"}
    x = np.arange(len(bars))
    bottom = np.zeros(len(bars))
    for k, part in enumerate(d.labels):
        vals = np.array([v[k] for _, v in bars], float)
        ax.bar(x, vals, 0.6, bottom=bottom, color=colors.get(part, style.SERIES_COLORS[k]),
               label=part)  # fmt: skip
        for xi, (b, v) in enumerate(zip(bottom, vals, strict=True)):
            if v > 0.06 * max(sum(bb) for _, bb in bars):
                ax.text(xi, b + v / 2, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if part != "SRAM" else "black")  # fmt: skip
        bottom += vals
    for xi, t in enumerate(bottom):
        shown = PAPER_TOTAL_W if xi == 0 else t  # the paper states 8.30 W (its parts: 8.31)
        ax.text(xi, t, f"{shown:.2f} W", ha="center", va="bottom", fontsize=8, fontweight="bold")
    total = PAPER_TOTAL_W
    band = Rectangle((-0.5, total * 0.7), len(bars), total * (1.43 - 0.7), facecolor="#999999",
                     alpha=0.15, lw=0, zorder=0)  # fmt: skip
    band.set_gid(style.REFERENCE_GID)
    ax.add_patch(band)
    style.reference_line(ax, "paper", y=total, label=f"paper: {total:.2f} W (shaded: 0.7-1.43x)")
    ax.set_xticks(x, [n for n, _ in bars], fontsize=8)
    ax.set_xlim(-0.5, len(bars) - 0.5)
    ax.set_ylim(0, max(float(bottom.max()), total * 1.43) * 1.12)
    ax.set_ylabel("average power (W)")
    style.title(ax, "Power: ours vs the paper's 8.30 W", "logic, SRAM and DRAM stacked")
    ax.grid(True, axis="y", alpha=0.3)
    style.legend_outside(ax)
    return fig


def figure_data(v: Validation) -> dict[str, Any]:
    """The figures' data of a validation (what ``figures.json`` holds)."""
    return {"mode": v.mode, "breakdown": asdict(v.breakdown), "sweep": asdict(v.sweep),
            "power": asdict(v.power)}  # fmt: skip


def _tuples(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuples(i) for i in x)
    return x


def load_validation(folder: str | Path) -> Validation:
    """A validation read back from its output folder (``validation.json`` and ``figures.json``,
    as ``spatten-sim validate -o`` writes them): enough to redraw the figures."""
    p = Path(folder)
    try:
        rows_raw = json.loads((p / "validation.json").read_text(encoding="utf-8"))
        figs = json.loads((p / DATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpattenError(f"{p}: no readable validation.json and {DATA_FILE} ({exc})") from None
    names = [f.name for f in fields(RowResult)]
    try:
        rows = tuple(RowResult(**{k: r.get(k, "") for k in names}) for r in rows_raw)
        b, s, w = figs["breakdown"], figs["sweep"], figs["power"]
        return Validation(
            mode=figs["mode"],
            rows=rows,
            breakdown=BreakdownData(*(_tuples(b[f.name]) for f in fields(BreakdownData))),
            sweep=SweepData(*(_tuples(s[f.name]) for f in fields(SweepData))),
            power=PowerData(*(_tuples(w[f.name]) for f in fields(PowerData))),
            wall_seconds=0.0,
        )
    except (KeyError, TypeError) as exc:
        raise SpattenError(f"{p}: not a validation output ({exc})") from None


def write_figures(
    v: Validation,
    out_dir: str | Path,
    fmt: str = "png",
    say: Callable[[str], None] | None = style.stderr_note,
) -> list[Path]:
    """Save the figures with data into ``out_dir`` in ``fmt`` (png, pdf, svg), and their data
    as ``figures.json``; a figure without data is skipped and said (``say``, default stderr).
    Returns the paths written."""
    from spatten_sim.files import atomic_write

    out = Path(out_dir)
    drawn = [
        style.draw("breakdown", breakdown_figure, v.breakdown, v.rows),
        style.draw("topk_dse", sweep_figure, v.sweep),
        style.draw("power", power_figure, v.power),
    ]
    paths = style.write_all(drawn, out, fmt, say=say, remove_stale=True)
    data = json.dumps(figure_data(v), indent=1) + "\n"
    paths.append(atomic_write(out / DATA_FILE, data))
    return paths
