"""Shared look of every figure: one colour per hardware unit and per DRAM stream, everywhere.

Figures are made with Matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state): :func:`new_figure` returns a figure that :func:`save` writes as PNG.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: one colour per unit (timing units, energy units); the same in every figure
UNIT_COLORS: dict[str, str] = {
    "fetcher": "#1f77b4",
    "dram": "#08306b",
    "bitwidth_converter": "#17becf",
    "qxk": "#d62728",
    "key_sram": "#ff9896",
    "softmax": "#ff7f0e",
    "progressive_decision": "#bcbd22",
    "topk_local_v": "#9467bd",
    "topk_token_head": "#c5b0d5",
    "probxv": "#2ca02c",
    "value_sram": "#98df8a",
    "importance_accumulators": "#8c564b",
    "leakage": "#7f7f7f",
}
#: DRAM streams: Q, K and V in blue, red, green; the LSB parts lighter
STREAM_COLORS: dict[str, str] = {
    "q": "#1f77b4",
    "q_lsb": "#aec7e8",
    "k_msb": "#d62728",
    "k_lsb": "#ff9896",
    "v": "#2ca02c",
    "v_lsb": "#98df8a",
}
STALL_COLOR = "#bdbdbd"
_FALLBACK = ("#e377c2", "#f7b6d2", "#c49c94", "#dbdb8d", "#9edae5", "#393b79", "#637939")
#: markers for series that are not units (traces, roofs)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def color_for(name: str) -> str:
    """The colour of a unit or stream (a stable pick for names not in the tables)."""
    if name in UNIT_COLORS:
        return UNIT_COLORS[name]
    if name in STREAM_COLORS:
        return STREAM_COLORS[name]
    h = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return _FALLBACK[h % len(_FALLBACK)]


def pretty(name: str) -> str:
    """A unit or key name for a label: ``topk_local_v`` -> ``topk local v``."""
    return name.replace("_", " ")


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG (atomically: a temporary file renamed; removed on failure)."""
    from spatten_sim.files import atomic_output

    p = Path(path)
    with atomic_output(p) as tmp:
        fig.savefig(tmp, format="png")
    return p
