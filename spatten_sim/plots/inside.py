"""Looking inside one run: the pruning heat map, and the layer / iteration marks and automatic
window of the unit timeline (``spatten-sim plot RUN --pruning`` / ``--timeline``; docs/plots.md).

* :func:`pruning_heatmap` -- which tokens survive SpAtten's cascade token pruning at each layer
  (rows: layers, columns: token positions; one panel per selected pass) and which heads survive
  cascade head pruning (a second panel), from the run folder's ``pruning.npz``
  (:mod:`spatten_sim.pruning_map`). Official CSV inputs carry counts, not token indices: their
  panel is the tokens kept per layer and iteration, and its title says so.
* :func:`layer_marks`, :func:`draw_marks` -- the layer and iteration spans of ``layers.csv``
  as a labelled band above the timeline, and lines across it at every iteration boundary.
* :func:`auto_window` -- the window the timeline shows when the run is long and no
  ``--window`` is given: the first generation iteration of a decoder, else the busiest
  :data:`AUTO_WINDOW_CYCLES` cycles; the figure's title names it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from spatten_sim.errors import SpattenError
from spatten_sim.plots.style import new_figure
from spatten_sim.pruning_map import PruningMap

#: a run longer than this (cycles) gets an automatic timeline window
LONG_RUN_CYCLES = 100_000
#: width of the "busiest cycles" window (cycles)
AUTO_WINDOW_CYCLES = 20_000
#: at most this many token panels when no passes are chosen
MAX_PASS_PANELS = 4
KEPT_COLOR, PRUNED_COLOR = "#2b5d9b", "#e9edf2"
_MASK_CMAP = ListedColormap([PRUNED_COLOR, KEPT_COLOR])


# ------------------------------------------------------------------ timeline marks and window
@dataclass(frozen=True)
class Marks:
    """Spans of the program: (label, start cycle, end cycle) per pass and per layer job."""

    iterations: tuple[tuple[str, int, int], ...]
    layers: tuple[tuple[str, int, int], ...]


def load_layer_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run folder's ``layers.csv`` (empty when there is none)."""
    p = Path(run_dir) / "layers.csv"
    if not p.is_file():
        return []
    try:
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpattenError(f"{p}: not a layers table ({type(exc).__name__})") from None
    try:
        for r in rows:
            for k in ("iteration", "layer", "start_cycle", "end_cycle"):
                r[k] = int(r[k])
            if not isinstance(r["stage"], str):
                raise TypeError("stage")
    except (KeyError, TypeError, ValueError):
        raise SpattenError(
            f"{p}: expected a stage and integer iteration, layer, start/end cycles"
        ) from None
    return rows


def layer_marks(rows: Sequence[Mapping[str, Any]]) -> Marks | None:
    """Pass and layer spans of ``layers.csv`` rows (None for no rows)."""
    if not rows:
        return None
    passes: dict[tuple[str, int], list[int]] = {}
    layers = []
    for r in rows:
        a, b = int(r["start_cycle"]), int(r["end_cycle"])
        span = passes.setdefault((str(r["stage"]), int(r["iteration"])), [a, b])
        span[0], span[1] = min(span[0], a), max(span[1], b)
        layers.append((f"L{r['layer']}", a, b))
    its = tuple(
        ("summarization" if s == "summarization" else f"gen {i}", a, b)
        for (s, i), (a, b) in passes.items()
    )
    return Marks(iterations=its, layers=tuple(layers))


def auto_window(
    intervals: Sequence[tuple[str, str, int, int]],
    rows: Sequence[Mapping[str, Any]],
    total_cycles: int,
    long_run: int | None = None,
    width: int | None = None,
) -> tuple[tuple[int, int], str] | None:
    """The window to show of a long run and why (None: show the whole run).

    A run of more than ``long_run`` cycles (default :data:`LONG_RUN_CYCLES`) shows its first
    generation iteration when it has one (a decoder's iterations repeat the same work), else the
    ``width`` cycles (default :data:`AUTO_WINDOW_CYCLES`) in which the units were busy the most
    (all units' busy cycles added up, at a resolution of ``width / 64``)."""
    long_run = LONG_RUN_CYCLES if long_run is None else long_run
    width = AUTO_WINDOW_CYCLES if width is None else width
    end = max([total_cycles, *(b for *_, b in intervals)])
    if end <= long_run:
        return None
    gen = [r for r in rows if r["stage"] == "generation"]
    if gen:
        it = min(int(r["iteration"]) for r in gen)
        sel = [r for r in gen if int(r["iteration"]) == it]
        lo = min(int(r["start_cycle"]) for r in sel)
        hi = max(int(r["end_cycle"]) for r in sel)
        if hi > lo:
            return (lo, hi), f"generation iteration {it} (the first)"
    busy = np.array([(a, b) for _, kind, a, b in intervals if kind == "busy" and b > a], np.int64)
    if not busy.size:
        return None
    step = max(1, width // 64)
    edges = np.arange(0, end + step, step, dtype=np.int64)
    total = _busy_before(busy[:, 0], edges) - _busy_before(busy[:, 1], edges)
    per_bin = np.diff(total)  # busy cycles of all units in each bin
    k = max(1, width // step)
    sums = np.convolve(per_bin, np.ones(k, np.int64), mode="valid")
    if not sums.size or sums.max() <= 0:
        return None
    lo = int(np.argmax(sums)) * step
    return (lo, min(lo + width, end)), f"the busiest {width:,} cycles"


def _busy_before(points: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``sum(max(0, e - p) for p in points)`` for every edge ``e`` (the busy cycles before ``e``
    are this for the starts minus this for the ends)."""
    p = np.sort(points)
    n = np.searchsorted(p, edges, side="left")
    csum = np.concatenate(([0], np.cumsum(p)))
    return n * edges - csum[n]


def draw_marks(band: Axes, ax: Axes, marks: Marks, lo: int, hi: int) -> None:
    """The pass and layer spans in the band axes above the timeline ``ax`` (two rows, spans
    alternately shaded, labelled where they are wide enough) and a dashed line across ``ax`` at
    each pass start inside the window."""
    width_px = band.get_window_extent().width or 1000.0
    per_px = max(1e-9, (hi - lo) / width_px)
    rows = (
        (1, marks.iterations, ("#c6dbef", "#9ecae1")),
        (0, marks.layers, ("#e0e0e0", "#bdbdbd")),
    )
    for y, spans, shades in rows:
        shown = [(lbl, max(a, lo), min(b, hi)) for lbl, a, b in spans if b > lo and a < hi]
        for i, (lbl, a, b) in enumerate(shown):
            band.broken_barh([(a, max(b - a, 0))], (y - 0.42, 0.84), facecolors=shades[i % 2])
            if (b - a) / per_px >= 7 * len(lbl) + 4:
                band.text((a + b) / 2, y, lbl, ha="center", va="center", fontsize=6.5)
    band.set_yticks([0, 1], ["layer", "iteration"], fontsize=8)
    band.set_ylim(-0.5, 1.5)
    band.tick_params(axis="x", labelbottom=False)
    starts = sorted({a for _, a, _ in marks.iterations if lo < a < hi})
    for a in starts:
        ax.axvline(a, color="#4a6fa5", lw=0.8, ls="--", alpha=0.8)


def marks_axes(fig: Figure) -> tuple[Axes, Axes]:
    """The timeline's axes and, above it, the band axes sharing its x axis (timeline first in
    ``fig.axes``)."""
    gs = fig.add_gridspec(2, 1, height_ratios=[1.0, 6.0], hspace=0.02)
    ax = fig.add_subplot(gs[1])
    band = fig.add_subplot(gs[0], sharex=ax)
    return ax, band


# ------------------------------------------------------------------ pruning heat map
def select_passes(pm: PruningMap, iterations: Sequence[int] | None = None) -> list[int]:
    """Indices of the passes to draw: those of ``iterations`` (0 = summarization), else all of
    them when at most :data:`MAX_PASS_PANELS`, else the summarization and the first, middle and
    last generation iterations."""
    have = [int(i) for i in pm.iterations]
    if iterations:
        missing = [i for i in iterations if i not in have]
        if missing:
            raise SpattenError(
                f"--iterations: the run has no pass {missing[0]} (it has "
                f"{_ranges(have)}; 0 = summarization)"
            )
        return [have.index(i) for i in dict.fromkeys(iterations)]
    if len(have) <= MAX_PASS_PANELS:
        return list(range(len(have)))
    first = [p for p, s in enumerate(pm.stages) if s == "summarization"][:1]
    gen = [p for p, s in enumerate(pm.stages) if s == "generation"]
    k = MAX_PASS_PANELS - len(first)
    pick = np.unique(np.linspace(0, len(gen) - 1, k).round().astype(int))
    return first + [gen[i] for i in pick]


def _ranges(vals: Sequence[int]) -> str:
    if not vals:
        return "none"
    if list(vals) == list(range(vals[0], vals[-1] + 1)):
        return f"{vals[0]}..{vals[-1]}"
    return ", ".join(map(str, vals))


def pruning_heatmap(pm: PruningMap, iterations: Sequence[int] | None = None) -> Figure:
    """Tokens kept per layer (one panel per selected pass: rows layers, columns token positions,
    dark = kept; official CSV inputs: one panel of the tokens kept per layer and iteration) and
    heads kept per layer (last panel: rows layers, columns heads; the share of the run's passes
    in which each head is kept when there are several)."""
    if pm.n_passes == 0 or not pm.present.any():
        raise SpattenError("--pruning: the run has no layer jobs to draw")
    counts_only = pm.token_mask is None
    sel = [] if counts_only else select_passes(pm, iterations)
    if counts_only and iterations:
        raise SpattenError(
            "--iterations: this run has token counts only (an official CSV input), drawn "
            "for every iteration in one panel"
        )
    n_tok = 1 if counts_only else len(sel)
    n_l = pm.n_layers
    fig = new_figure(min(18.0, (3.6 if not counts_only else 5.0) * n_tok + 3.6),
                     max(3.6, 0.2 * n_l + 2.0))  # fmt: skip
    gs = fig.add_gridspec(1, n_tok + 1, width_ratios=[3.0] * n_tok + [1.3])
    tok_axes = [fig.add_subplot(gs[0, i]) for i in range(n_tok)]
    ax_h = fig.add_subplot(gs[0, n_tok])
    if counts_only:
        _count_panel(fig, tok_axes[0], pm)
    else:
        assert pm.token_mask is not None
        for ax, p in zip(tok_axes, sel, strict=True):
            n_ctx = int(pm.tokens_total[p][pm.present[p]].max())
            img = pm.token_mask[p, :, :n_ctx].astype(np.int8)
            extent = (-0.5, n_ctx - 0.5, n_l - 0.5, -0.5)
            ax.imshow(img, cmap=_MASK_CMAP, vmin=0, vmax=1, aspect="auto",
                      interpolation="nearest", extent=extent)  # fmt: skip
            last = int(pm.tokens_kept[p][pm.present[p]][-1])
            ax.set_title(f"{pm.pass_label(p)}: {last} of {n_ctx} tokens kept at the last layer",
                         fontsize=9)  # fmt: skip
            if pm.token_text is not None and n_ctx <= 64:
                ax.set_xticks(range(n_ctx), list(pm.token_text[:n_ctx]), rotation=90, fontsize=6)
                ax.set_xlabel("token")
            else:
                ax.set_xlabel(
                    "token position"
                    + ("" if pm.token_text is not None else " (the trace has token ids, no text)")
                )
            ax.set_ylabel("layer")
        fig.suptitle(
            "Cascade token pruning: tokens kept at each layer (dark: kept, light: pruned)",
            fontsize=10,
        )
    present = pm.present.any(axis=1)
    share = pm.head_mask[present].mean(axis=0)
    n_runs = int(present.sum())
    im = ax_h.imshow(share, cmap="Blues" if n_runs > 1 else _MASK_CMAP, vmin=0, vmax=1,
                     aspect="auto", interpolation="nearest",
                     extent=(-0.5, pm.n_heads - 0.5, n_l - 0.5, -0.5))  # fmt: skip
    ax_h.set_title(
        "Heads kept per layer"
        + (f"\n(share of {n_runs} passes)" if n_runs > 1 else "\n(dark: kept)"),
        fontsize=9,
    )
    ax_h.set_xlabel("head")
    ax_h.set_ylabel("layer")
    if n_runs > 1:
        fig.colorbar(im, ax=ax_h, shrink=0.8, label="share of passes")
    return fig


def _count_panel(fig: Figure, ax: Axes, pm: PruningMap) -> None:
    """Tokens kept per layer (rows) and iteration (columns), for inputs with counts only."""
    kept = np.where(pm.present, pm.tokens_kept, 0).T.astype(float)  # [L, P]
    its = [int(i) for i in pm.iterations]
    im = ax.imshow(np.ma.masked_where(~pm.present.T, kept), cmap="Blues", aspect="auto",
                   interpolation="nearest",
                   extent=(-0.5, len(its) - 0.5, pm.n_layers - 0.5, -0.5))  # fmt: skip
    step = max(1, len(its) // 16)
    ax.set_xticks(range(0, len(its), step), [str(i) for i in its[::step]], fontsize=7)
    ax.set_xlabel("generation iteration")
    ax.set_ylabel("layer")
    ax.set_title("Tokens kept per layer and iteration", fontsize=9)
    fig.suptitle(
        "Cascade token pruning, counts only: an official CSV input gives how many tokens are "
        "kept, not which",
        fontsize=10,
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="tokens kept")
