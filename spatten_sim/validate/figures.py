"""The validation figures: the GPT-2 breakdown bars, the top-k DSE curve, the power pies.

Each ``*_figure`` returns a Matplotlib figure drawn from the run's data (tests read the bars and
lines back); :func:`write_figures` saves them as PNG.
"""

from __future__ import annotations

from pathlib import Path

from spatten_sim.files import atomic_output
from spatten_sim.validate.runner import BreakdownData, PowerData, SweepData, Validation

FIGURE_NAMES = ("breakdown.png", "topk_dse.png", "power.png")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def breakdown_figure(d: BreakdownData):
    """Grouped bars: cumulative speedup of each step over the dedicated datapath."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    series = [("paper (GPT-2)", d.paper)]
    if d.trace is not None:
        series.append(("ours: decoder trace", d.trace))
    if d.csv is not None:
        series.append(("ours: GPT-2-Medium CSV (replay: only the top-k step applies)", d.csv))
    n = len(series)
    width = 0.8 / n
    xs = range(len(d.steps))
    for i, (label, vals) in enumerate(series):
        ax.bar([x + (i - (n - 1) / 2) * width for x in xs], vals, width, label=label)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(d.steps, rotation=15)
    ax.set_ylabel("speedup over the dedicated datapath (x)")
    ax.set_title("GPT-2 speedup breakdown")
    ax.legend()
    fig.tight_layout()
    return fig


def sweep_figure(d: SweepData):
    """Speedup over 1 comparator vs top-k comparators (log2 x), paper's saturation marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    if d.speedup is not None:
        ax.plot(d.comparators, d.speedup, marker="o", label="ours: GPT-2-Small CSV")
    ax.axvline(d.paper_saturation, color="gray", ls="--", label="paper: saturates at 16")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(d.comparators))
    ax.set_xticklabels([str(c) for c in d.comparators])
    ax.set_xlabel("top-k comparators")
    ax.set_ylabel("speedup over 1 comparator (x)")
    ax.set_title("Top-k engine design space (generation)")
    ax.legend()
    fig.tight_layout()
    return fig


def power_figure(d: PowerData):
    """One pie per source (paper, then our runs): logic, SRAM, DRAM in W."""
    plt = _plt()
    pies = [("paper (8.30 W)", d.paper), *d.ours]
    fig, axes = plt.subplots(1, len(pies), figsize=(4 * len(pies), 4), squeeze=False)
    for ax, (label, vals) in zip(axes[0], pies, strict=True):
        ax.pie(
            vals,
            labels=[f"{n} {v:.2f} W" for n, v in zip(d.labels, vals, strict=True)],
            autopct="%1.0f%%",
        )
        ax.set_title(f"{label}\n{sum(vals):.2f} W" if label != pies[0][0] else label)
    fig.suptitle("Power split vs the paper")
    fig.tight_layout()
    return fig


def write_figures(v: Validation, out_dir: str | Path) -> list[Path]:
    """Save the three figures as PNG into ``out_dir``; returns their paths."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in zip(
        FIGURE_NAMES,
        (breakdown_figure(v.breakdown), sweep_figure(v.sweep), power_figure(v.power)),
        strict=True,
    ):
        p = out / name
        try:
            with atomic_output(p) as tmp:
                fig.savefig(tmp, dpi=110, format="png")
        finally:
            plt.close(fig)
        paths.append(p)
    return paths
