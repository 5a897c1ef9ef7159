"""The accuracy-cost figure of a sweep with an ``accuracy`` section (docs/accuracy.md).

:func:`accuracy_pareto`: the model's accuracy with the simulator's decisions in the loop
(perplexity for a decoder, lower is better; embedding cosine to the dense model for an encoder,
higher is better) against the latency and against the energy of the *same* decisions
(``accuracy.hardware.*``), one line per series (by default the token-pruning policy), the
points of a series joined in order of cost; the dense model's perplexity (or a cosine of 1) is
the reference line, the 95 % intervals are error bars, and the points on the Pareto front of
each panel have a black edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from spatten_sim.plots.data import Run
from spatten_sim.plots.figures import pareto_mask, setting_text
from spatten_sim.plots.style import (
    NoData,
    legend_outside,
    new_figure,
    reference_line,
    series_style,
    spans_decades,
    title,
)

__all__ = ["accuracy_pareto", "has_accuracy", "series_key"]

#: the cost axes: column, axis label, scale to the shown unit
COSTS = (
    ("accuracy.hardware.seconds", "latency (µs)", 1e6),
    ("accuracy.hardware.energy_pj", "energy (µJ)", 1e-6),
)
POLICY_KEY = "policy.token_pruning.kind"


def _metric(rows: Sequence[dict[str, Any]]) -> tuple[str, str, bool] | None:
    """(column, label, lower is better) of the accuracy measure the rows carry."""
    if any(isinstance(r.get("accuracy.perplexity"), (int, float)) for r in rows):
        return "accuracy.perplexity", "perplexity, scored tokens (lower is better)", True
    if any(isinstance(r.get("accuracy.embedding_cosine"), (int, float)) for r in rows):
        return (
            "accuracy.embedding_cosine",
            "embedding cosine to the dense model (higher is better)",
            False,
        )
    return None


def has_accuracy(runs: Sequence[Run]) -> bool:
    return _metric([r.row for r in runs]) is not None


def series_key(runs: Sequence[Run]) -> str | None:
    """The axis that makes the series: the token-pruning policy when it varies, else the last
    axis with several values (None: one series)."""
    varying: list[str] = []
    for k in dict.fromkeys(k for r in runs for k, _ in r.values):
        if len({repr(dict(r.values).get(k)) for r in runs}) > 1:
            varying.append(k)
    if POLICY_KEY in varying:
        return POLICY_KEY
    return varying[-1] if varying else None


def _unique(runs: Sequence[Run]) -> list[Run]:
    """One run per configuration: the accuracy does not depend on the sweep's trace."""
    seen: dict[tuple, Run] = {}
    for r in runs:
        cfg = tuple(sorted((k, repr(v)) for k, v in r.row.items() if k.startswith("cfg.")))
        seen.setdefault((tuple(r.values), cfg), r)
    return list(seen.values())


def accuracy_pareto(
    runs: Sequence[Run], series: str | None = None, where: str | None = None
) -> Figure:
    """Accuracy against latency (left) and energy (right); see the module docstring."""
    rows = [r.row for r in runs]
    m = _metric(rows)
    if m is None:
        raise NoData("accuracy: no point has accuracy.* columns (add an accuracy section)")
    col, ylabel, lower = m
    use = [r for r in _unique(runs) if isinstance(r.row.get(col), (int, float))]
    key = series if series is not None else series_key(use)
    groups: dict[str, list[Run]] = {}
    for r in use:
        name = setting_text(key, dict(r.values).get(key), short=True) if key else "all points"
        groups.setdefault(name, []).append(r)
    fig = new_figure(11.5, 4.6)
    axes = fig.subplots(1, 2)
    ys_all = [float(r.row[col]) for r in use]
    handles: list[Any] = []
    for i, (name, rs) in enumerate(groups.items()):
        st = series_style(i)
        for ax, (cost, _, scale) in zip(axes, COSTS, strict=True):
            pts = sorted(
                (float(r.row[cost]) * scale, float(r.row[col]), r)
                for r in rs
                if isinstance(r.row.get(cost), (int, float))
            )
            if not pts:
                continue
            xs = np.array([p[0] for p in pts])
            ys = np.array([p[1] for p in pts])
            lo = np.array([p[2].row.get(f"{col}_ci95_low", p[1]) for p in pts], dtype=float)
            hi = np.array([p[2].row.get(f"{col}_ci95_high", p[1]) for p in pts], dtype=float)
            ax.errorbar(
                xs, ys, yerr=[ys - lo, hi - ys], color=st["color"], marker=st["marker"],
                linestyle=st["linestyle"], lw=1.2, ms=5, capsize=2, elinewidth=0.7,
            )  # fmt: skip
        handles.append(Line2D([], [], lw=1.2, **st, label=name))
    for ax, (cost, xlabel, scale) in zip(axes, COSTS, strict=True):
        front_pts = np.array(
            [
                [float(r.row[cost]) * scale, float(r.row[col]) * (1 if lower else -1)]
                for r in use
                if isinstance(r.row.get(cost), (int, float))
            ]
        )
        if len(front_pts):
            front = pareto_mask(front_pts)
            ax.scatter(
                front_pts[front, 0], front_pts[front, 1] * (1 if lower else -1), s=70,
                facecolors="none", edgecolors="black", linewidths=1.2, zorder=5,
            )  # fmt: skip
            if spans_decades(front_pts[:, 0], 8.0):
                ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    dense = [r.row.get("accuracy.dense_perplexity") for r in use] if lower else [1.0]
    ref = next((float(v) for v in dense if isinstance(v, (int, float))), None)
    if ref is not None:
        for ax in axes:
            reference_line(ax, "baseline", y=ref)
        handles.append(
            Line2D([], [], color="#777777", lw=0.8, label="dense model" if lower else "1.0")
        )
    if lower and ys_all and spans_decades(ys_all + ([ref] if ref else []), 8.0):
        for ax in axes:
            ax.set_yscale("log")
    axes[0].set_title("Accuracy vs latency", fontsize=10)
    axes[1].set_title("Accuracy vs energy", fontsize=10)
    handles.append(
        Line2D([], [], ls="", marker="o", mfc="none", mec="black", label="Pareto-optimal")
    )
    legend_outside(
        fig, handles, title=setting_text(key, "", short=True).strip() if key else None,
        where="below", ncols=min(5, len(handles)),
    )  # fmt: skip
    if where:
        title(fig, where, fontsize=10)
    return fig
