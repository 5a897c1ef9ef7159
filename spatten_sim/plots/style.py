"""One figure style for every figure spatten-sim draws (docs/plots.md, "The style").

* **Labels**: :func:`quantity` / :func:`label` turn any key a figure can show (a derived metric
  such as ``latency_us``, a ``results.csv`` column such as ``units.qxk.utilization``, a
  configuration key such as ``buffers.key_sram_bytes``, with or without ``cfg.``) into a readable
  label with its unit, and say how to print its ticks (``buffers.key_sram_bytes`` -> "K SRAM
  (KiB)", ticks divided by 1,024; integer keys get integer ticks only).
* **Axes**: :func:`format_axis` applies the label, a log scale when the values span more than
  16x (base 2 for powers of two), ticks at the data points when there are few of them, and the
  tick formatter of the quantity.
* **Series**: :func:`series_style` gives series ``i`` a colour, a marker and a line style;
  the first 24 are all distinct in colour-and-marker and no two of the first 12 share a colour.
  Hardware units and DRAM streams keep one colour each in every figure (:data:`UNIT_COLORS`,
  :data:`STREAM_COLORS`).
* **Legends** go outside the data (:func:`legend_outside`); **reference lines** (the paper's
  value, the DRAM bound, the compute bound) have one look each (:func:`reference_line`);
  :func:`title` adds a second line that names the filter of the data shown.
* **Files**: :func:`save` writes PNG, PDF or SVG (:data:`FORMATS`; reproducible: no dates in
  the files) and refuses a figure without data (:class:`NoData`): :func:`draw` and
  :func:`write_all` skip such a figure and say so, so an empty figure is never written.

Figures are made with Matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state): :func:`new_figure` returns a figure with constrained layout.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from spatten_sim.errors import SpattenError

# ------------------------------------------------------------------------------ colours
#: one colour per unit (timing units, energy units); the same in every figure
UNIT_COLORS: dict[str, str] = {
    "fetcher": "#1f77b4",
    "dram": "#08306b",
    "bitwidth_converter": "#17becf",
    "qxk": "#d62728",
    "key_sram": "#ff9896",
    "softmax": "#ff7f0e",
    "softmax_div": "#fdae6b",
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
#: 12 qualitative colours that stay apart on screen and in grey print (Paul Tol's "muted" and
#: "bright" schemes, without their near-duplicates)
SERIES_COLORS: tuple[str, ...] = (
    "#4477aa",
    "#ee6677",
    "#228833",
    "#ccbb44",
    "#66ccee",
    "#aa3377",
    "#332288",
    "#117733",
    "#882255",
    "#999933",
    "#cc6677",
    "#44aa99",
)
#: markers for series that are not units (traces, roofs)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")
#: the look of each kind of reference line
REFERENCE_STYLES: dict[str, dict[str, Any]] = {
    "paper": {"color": "#222222", "ls": "--", "lw": 1.2},
    "dram": {"color": "#08306b", "ls": "-.", "lw": 1.2},
    "compute": {"color": "#b2182b", "ls": ":", "lw": 1.4},
    "baseline": {"color": "#777777", "ls": "-", "lw": 0.8},
}
#: the gid of reference artists: they are not data (a figure of reference lines only is empty)
REFERENCE_GID = "reference"


def color_for(name: str) -> str:
    """The colour of a unit or stream (a stable pick for names not in the tables)."""
    if name in UNIT_COLORS:
        return UNIT_COLORS[name]
    if name in STREAM_COLORS:
        return STREAM_COLORS[name]
    h = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return _FALLBACK[h % len(_FALLBACK)]


def series_style(i: int) -> dict[str, Any]:
    """Colour, marker and line style of series ``i`` (Matplotlib ``plot`` keywords).

    Colours cycle every 12 and markers every 8, so the first 24 series differ in the pair, and
    the line style changes every 24."""
    return {
        "color": SERIES_COLORS[i % len(SERIES_COLORS)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINESTYLES[(i // 24) % len(LINESTYLES)],
    }


# ------------------------------------------------------------------------------ labels
@dataclass(frozen=True)
class Quantity:
    """How a key is shown: its name, unit, how its ticks print and whether it is an integer.

    A tick shows ``value * scale`` (the data keep the key's own unit: bytes, pJ ...)."""

    text: str
    unit: str = ""
    scale: float = 1.0
    integer: bool = False

    @property
    def label(self) -> str:
        """The axis label: ``text (unit)``."""
        return f"{self.text} ({self.unit})" if self.unit else self.text

    def tick(self, value: float) -> str:
        """One tick label: the value in the label's unit, plain (600, not 6 x 10^2)."""
        v = value * self.scale
        if v == 0:
            return "0"
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        return f"{v:.4g}"


_KIB = 1 / 1024
#: names of the hardware units and DRAM streams in labels and legends
NAMES: dict[str, str] = {
    "fetcher": "fetcher",
    "dram": "DRAM",
    "bitwidth_converter": "bit-width converter",
    "qxk": "QxK",
    "key_sram": "K SRAM",
    "softmax": "softmax",
    "softmax_div": "softmax divide",
    "progressive_decision": "progressive-quantization decision",
    "topk_local_v": "local-V top-k",
    "topk_token_head": "token/head top-k",
    "probxv": "probxV",
    "value_sram": "V SRAM",
    "importance_accumulators": "importance accumulators",
    "leakage": "leakage",
    "sram": "SRAM",
    "compute": "compute",
    "q": "Q",
    "q_lsb": "Q LSB",
    "k_msb": "K MSB",
    "k_lsb": "K LSB",
    "v": "V",
    "v_lsb": "V LSB",
    "total": "total",
}
#: words of key paths in labels
_WORDS: dict[str, str] = {
    "qxk": "QxK",
    "probxv": "probxV",
    "topk": "top-k",
    "dram": "DRAM",
    "sram": "SRAM",
    "msb": "MSB",
    "lsb": "LSB",
    "fifo": "FIFO",
    "ghz": "GHz",
    "kv": "K/V",
    "bitwidth": "bit-width",
    "cpu": "CPU",
    "impl": "implementation",
    "q": "Q",
    "k": "K",
    "v": "V",
}
#: phrases of those words, after the words are spelled out
_PHRASES: dict[str, str] = {
    "in flight": "in-flight",
    "LSB refetch": "LSB re-fetch",
    "local v": "local-V",
}

#: every derived metric and headline key: its label, unit and tick scale. Keys missing here get a
#: label from :func:`quantity`'s rules (tests check that every key the CLI offers gets one).
LABELS: dict[str, Quantity] = {
    # derived metrics (spatten_sim.plots.data.METRICS): the values are already in these units
    "latency_us": Quantity("latency", "µs"),
    "energy_uj": Quantity("energy", "µJ"),
    "fidelity_error": Quantity("fidelity error", "attention output, relative, mean"),
    "dram_mb": Quantity("DRAM read", "MB"),
    "power_mw": Quantity("average power", "mW"),
    "gops_effective": Quantity("throughput, dense-equivalent", "GOP/s"),
    "gops_per_joule": Quantity("energy efficiency", "GOP/J"),
    "speedup": Quantity("speed-up", "x"),
    # configuration
    "clock_ghz": Quantity("clock", "GHz"),
    "qxk.multipliers": Quantity("QxK multipliers", integer=True),
    "probxv.multipliers": Quantity("probxV multipliers", integer=True),
    "topk.comparators": Quantity("top-k comparators per array", integer=True),
    "topk.fifo_depth": Quantity("top-k FIFO depth", "entries", integer=True),
    "buffers.key_sram_bytes": Quantity("K SRAM", "KiB", _KIB, integer=True),
    "buffers.value_sram_bytes": Quantity("V SRAM", "KiB", _KIB, integer=True),
    "buffers.word_bits": Quantity("on-chip word", "bits", integer=True),
    "memory.channels": Quantity("HBM2 channels", integer=True),
    "memory.preset": Quantity("memory model"),
    "fetcher.max_in_flight_requests": Quantity("fetcher requests in flight", integer=True),
    "policy.token_pruning.end_keep_ratio": Quantity(
        "token keep ratio at the last layer", "fraction"
    ),
    "policy.token_pruning.start_keep_ratio": Quantity(
        "token keep ratio at the first pruned layer", "fraction"
    ),
    "policy.head_pruning.end_keep_ratio": Quantity("head keep ratio at the last layer", "fraction"),
    "policy.head_pruning.start_keep_ratio": Quantity(
        "head keep ratio at the first pruned layer", "fraction"
    ),
    "policy.local_v_pruning.keep_ratio": Quantity("local-V keep ratio", "fraction"),
    "policy.quantization.k_msb_bits": Quantity("K MSB", "bits", integer=True),
    "policy.quantization.k_lsb_bits": Quantity("K LSB", "bits", integer=True),
    "policy.progressive_quantization.threshold": Quantity(
        "LSB re-fetch threshold", "max probability"
    ),
    "policy.topk_seed": Quantity("top-k pivot seed"),
    "bitwidth_converter.bytes_per_cycle": Quantity("bit-width converter rate", "bytes/cycle"),
    "fetcher.requests_per_channel_per_cycle": Quantity("fetcher requests per channel", "per cycle"),
    "fetcher.address_issue_per_cycle": Quantity("fetcher addresses issued", "per cycle"),
    # report
    "cycles": Quantity("latency", "cycles", integer=True),
    "seconds": Quantity("latency", "µs", 1e6),
    "dram.bytes_read": Quantity("DRAM read", "MB", 1e-6, integer=True),
    "dram.bytes_written": Quantity("DRAM written", "MB", 1e-6, integer=True),
    "dram.transactions": Quantity("DRAM transactions", integer=True),
    "dram.bandwidth_gbps": Quantity("DRAM bandwidth, average", "GB/s"),
    "dram.peak_bandwidth_gbps": Quantity("DRAM bandwidth, peak", "GB/s"),
    "dram.bound_cycles": Quantity("DRAM bound (bytes / peak bandwidth)", "cycles", integer=True),
    "dram.avg_latency_ns": Quantity("DRAM latency, mean", "ns"),
    "dram.p50_latency_ns": Quantity("DRAM latency, median", "ns"),
    "dram.p99_latency_ns": Quantity("DRAM latency, 99th percentile", "ns"),
    "energy_pj.total": Quantity("energy", "µJ", 1e-6),
    "power_mw.total": Quantity("average power", "mW"),
    "throughput.dense_ops": Quantity("attention work, dense-equivalent", "GOP", 1e-9),
    "throughput.actual_ops": Quantity("attention work, executed", "GOP", 1e-9),
    "throughput.gops_effective": Quantity("throughput, dense-equivalent", "GOP/s"),
    "throughput.gops_actual": Quantity("throughput, executed", "GOP/s"),
    "throughput.gops_per_joule_effective": Quantity("energy efficiency", "GOP/J"),
    "pruning.tokens_kept_fraction": Quantity("tokens kept", "% of layer jobs' tokens", 100),
    "pruning.heads_kept_fraction": Quantity("heads kept", "% of layer jobs' heads", 100),
    "pruning.v_kept_fraction": Quantity("V rows kept (local-V pruning), all queries", "%", 100),
    "pruning.lsb_refetch_fraction": Quantity("queries re-fetching LSBs, all queries", "%", 100),
    "pruning.summarization.v_kept_fraction": Quantity(
        "V rows kept (local-V pruning), summarization", "%", 100
    ),
    "pruning.summarization.lsb_refetch_fraction": Quantity(
        "queries re-fetching LSBs, summarization", "%", 100
    ),
    "pruning.summarization.queries": Quantity("query jobs, summarization", integer=True),
    "pruning.generation.v_kept_fraction": Quantity(
        "V rows kept (local-V pruning), generation", "%", 100
    ),
    "pruning.generation.lsb_refetch_fraction": Quantity(
        "queries re-fetching LSBs, generation", "%", 100
    ),
    "pruning.generation.queries": Quantity("query jobs, generation", integer=True),
    "pruning.queries": Quantity("query jobs", integer=True),
    "pruning.heads_split": Quantity("heads streamed per query (K/V too large)", integer=True),
    "fidelity.output_rel_error_mean": Quantity(
        "fidelity error", "attention output, relative, mean"
    ),
    "fidelity.output_rel_error_max": Quantity("fidelity error", "attention output, relative, max"),
    "fidelity.importance_spearman_mean": Quantity(
        "importance ranking vs dense", "Spearman correlation, mean"
    ),
    "fidelity.importance_spearman_min": Quantity(
        "importance ranking vs dense", "Spearman correlation, min"
    ),
    "fidelity.importance_topk_overlap_mean": Quantity("top-k overlap with dense", "fraction, mean"),
    "fidelity.importance_topk_overlap_min": Quantity("top-k overlap with dense", "fraction, min"),
    "input.n_layers": Quantity("layers", integer=True),
    "input.n_heads": Quantity("heads", integer=True),
    "input.n_kv_heads": Quantity("K/V heads", integer=True),
    "input.head_dim": Quantity("head size", "elements", integer=True),
    "input.prompt_tokens": Quantity("prompt", "tokens", integer=True),
    "input.generated_tokens": Quantity("generated", "tokens", integer=True),
    "sim.wall_seconds": Quantity("simulation wall time", "s"),
    "sim.simulated_cycles_per_second": Quantity("simulation speed", "cycles/s"),
    "sim.events": Quantity("timing-model events", integer=True),
    "sim.dram_batches": Quantity("DRAM batches", integer=True),
}

# suffix rules for keys not in LABELS: (suffix, unit, scale, integer)
_SUFFIXES: tuple[tuple[str, str, float, bool], ...] = (
    ("_bytes", "KiB", _KIB, True),
    ("_cycles", "cycles", 1.0, True),
    ("_bits", "bits", 1.0, True),
    ("_ghz", "GHz", 1.0, False),
    ("_gbps", "GB/s", 1.0, False),
    ("_ns", "ns", 1.0, False),
    ("_mw", "mW", 1.0, False),
    ("_pj", "pJ", 1.0, False),
    ("_seconds", "s", 1.0, False),
    ("_ratio", "fraction", 1.0, False),
    ("_fraction", "fraction", 1.0, False),
    ("_depth", "entries", 1.0, True),
    ("_entries", "entries", 1.0, True),
    ("_per_cycle", "per cycle", 1.0, False),
    ("_stages", "stages", 1.0, True),
    ("multipliers", "", 1.0, True),
    ("comparators", "", 1.0, True),
    ("channels", "", 1.0, True),
    ("parallelism", "lanes", 1.0, True),
    ("_requests", "", 1.0, True),
    ("_seed", "", 1.0, True),
)


def words(key: str) -> str:
    """A key path in words: ``policy.token_pruning.end_keep_ratio`` -> ``token pruning end keep
    ratio`` (``cfg.``, ``policy.`` and ``buffers.`` dropped; QxK, DRAM, MSB ... spelled out)."""
    parts = [p for p in key.split(".") if p not in ("cfg", "policy", "buffers", "by_unit")]
    tokens = [_WORDS.get(t.lower(), t) for t in " ".join(parts).replace("_", " ").split()]
    text = " ".join(tokens)
    for k, v in _PHRASES.items():
        text = re.sub(rf"(?<!\S){re.escape(k)}(?!\S)", v, text)
    return text


def unit_name(name: str) -> str:
    """A hardware unit's or a DRAM stream's name for a label: ``topk_local_v`` -> local-V top-k."""
    return NAMES.get(name, name.replace("_", " "))


def quantity(key: str) -> Quantity:
    """How ``key`` is labelled and ticked (any derived metric, ``results.csv`` column or
    configuration key, with or without ``cfg.``)."""
    if key.startswith("cfg."):
        key = key[4:]
    if key in LABELS:
        return LABELS[key]
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "units":
        u, field = unit_name(parts[1]), parts[2]
        if field == "busy_cycles":
            return Quantity(f"{u} busy", "cycles", integer=True)
        if field == "stall_cycles":
            return Quantity(f"{u} stalled", "cycles", integer=True)
        if field == "utilization":
            return Quantity(f"{u} utilization", "% of cycles", 100)
    if parts[0] == "energy_pj" and len(parts) >= 2:
        return Quantity(f"{unit_name(parts[-1])} energy", "µJ", 1e-6)
    if parts[0] == "power_mw" and len(parts) == 2:
        return Quantity(f"{unit_name(parts[1])} power", "mW")
    if parts[:2] == ["dram", "bytes_by_stream"] and len(parts) == 3:
        return Quantity(f"DRAM read, {unit_name(parts[2])}", "MB", 1e-6, integer=True)
    if parts[0] == "dram" and len(parts) == 2:
        return Quantity(f"DRAM {words(parts[1])}", integer=True)
    if parts[0] == "memory" and len(parts) == 2 and re.fullmatch(r"n[A-Z0-9]+", parts[1]):
        return Quantity(f"HBM2 {parts[1]}", "DRAM clocks", integer=True)
    if parts[0] == "provenance":
        return Quantity(words(key))
    for suffix, unit, scale, integer in _SUFFIXES:
        if key.endswith(suffix):
            stem = key[: -len(suffix)] if suffix.startswith("_") else key
            return Quantity(words(stem), unit, scale, integer)
    return Quantity(words(key))


def trace_name(name: str) -> str:
    """A trace or workload file name for a legend: ``minilm-sst-60.npz`` -> ``minilm-sst-60``,
    an official CSV -> its shipped name and "CSV" (``gpt2-small CSV``)."""
    from spatten_sim.shipped import OFFICIAL_WORKLOADS

    base = Path(name).name
    for short, fname in OFFICIAL_WORKLOADS.items():
        if base == fname:
            return f"{short} CSV"
    for suffix in (".npz", ".csv"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


#: compact names of swept keys, for bar labels under many bars
SHORT: dict[str, str] = {
    "policy.token_pruning.end_keep_ratio": "keep",
    "policy.head_pruning.end_keep_ratio": "head keep",
    "policy.quantization.k_msb_bits": "MSB",
    "policy.quantization.k_lsb_bits": "LSB",
    "memory.channels": "channels",
    "topk.comparators": "comparators",
    "buffers.key_sram_bytes": "K SRAM",
    "buffers.value_sram_bytes": "V SRAM",
}


def short_label(key: str) -> str:
    """A compact name of a key (:data:`SHORT`, else its last component in words)."""
    key = key.removeprefix("cfg.")
    return SHORT.get(key, words(key.split(".")[-1]))


def label(key: str) -> str:
    """The axis label of ``key`` with its unit: ``latency_us`` -> ``latency (µs)``."""
    return quantity(key).label


def title_of(key: str) -> str:
    """A short name of ``key`` for a panel title: its label without the unit."""
    return quantity(key).text


def pretty(name: str) -> str:
    """A unit, stream or key name for a legend (:func:`unit_name`)."""
    return unit_name(name)


# ------------------------------------------------------------------------------ axes
def _finite_positive(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
            out.append(float(v))
    return out


def spans_decades(values: Iterable[Any], factor: float = 16.0) -> bool:
    """True when the positive values span at least ``factor`` (a log scale shows them best)."""
    v = _finite_positive(values)
    return len(v) > 1 and max(v) / min(v) >= factor


def _powers_of_two(values: Sequence[float]) -> bool:
    return all(v > 0 and abs(math.log2(v) - round(math.log2(v))) < 1e-9 for v in values)


def format_axis(
    ax: Axes,
    which: str,
    key: str,
    values: Iterable[Any] = (),
    *,
    log: bool | None = None,
    max_ticks_at_data: int = 12,
) -> None:
    """Label axis ``which`` ("x" or "y") of ``ax`` as ``key`` and choose its scale and ticks.

    ``values`` are the data on that axis. ``log``: None picks a log scale when the values span
    16x or more (base 2 when they are all powers of two). A log axis of few distinct values
    (at most ``max_ticks_at_data``) has its ticks at the data points; an integer key's linear
    axis has integer ticks only; tick labels are in the label's unit (bytes as KiB ...)."""
    q = quantity(key)
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xlabel if which == "x" else ax.set_ylabel)(q.label)
    vals = sorted(set(_finite_positive(values)))
    use_log = spans_decades(vals) if log is None else log
    fmt = FuncFormatter(lambda v, _pos: q.tick(v))
    if use_log and vals:
        base = 2 if _powers_of_two(vals) else 10
        (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=base)
        if len(vals) <= max_ticks_at_data and (which == "x" or base == 2):
            axis.set_major_locator(FixedLocator(vals))
            axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(fmt)
        if base == 10 and _narrow(vals):
            # fewer than two decades: label the 2x and 5x minor ticks too
            axis.set_minor_formatter(FuncFormatter(lambda v, _pos: _minor_tick(q, v)))
        else:
            axis.set_minor_formatter(NullFormatter())
        return
    if q.integer:
        if which == "x" and 1 < len(vals) <= max_ticks_at_data:
            axis.set_major_locator(FixedLocator(vals))
        else:
            axis.set_major_locator(MaxNLocator(integer=True))
    if q.scale != 1.0 or q.integer:
        axis.set_major_formatter(fmt)


def _minor_tick(q: Quantity, v: float) -> str:
    if v <= 0:
        return ""
    mant = v / 10 ** math.floor(math.log10(v) + 1e-9)
    return q.tick(v) if round(mant, 6) in (2.0, 5.0) else ""


def _narrow(vals: Sequence[float]) -> bool:
    """Fewer than two decades: minor ticks need labels too (else a log axis may show none)."""
    return max(vals) / min(vals) < 100


def integer_ticks(ax: Axes, which: str = "x") -> None:
    """Integer ticks only on axis ``which`` (layers, heads, tokens ...)."""
    (ax.xaxis if which == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def reference_line(
    ax: Axes,
    kind: str,
    *,
    y: float | None = None,
    x: float | None = None,
    xs: Sequence[float] | None = None,
    ys: Sequence[float] | None = None,
    label: str | None = None,
    **kw: Any,
) -> Line2D:
    """A reference line of ``kind`` ("paper", "dram", "compute", "baseline"): horizontal at
    ``y``, vertical at ``x``, or a curve ``xs, ys`` (a bound that varies along the axis).
    Reference lines are not data (:func:`has_data`)."""
    style = {**REFERENCE_STYLES[kind], **kw}
    if xs is not None and ys is not None:
        (line,) = ax.plot(list(xs), list(ys), label=label, **style)
    elif y is not None:
        line = ax.axhline(y, label=label, **style)
    elif x is not None:
        line = ax.axvline(x, label=label, **style)
    else:
        raise ValueError("reference_line: give y, x or xs and ys")
    line.set_gid(REFERENCE_GID)
    return line


def legend_outside(
    target: Axes | Figure,
    handles: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
    where: str = "right",
    fontsize: float = 7.5,
    ncols: int = 1,
) -> Legend | None:
    """A legend outside the data: right of an axes, or beside (``where`` "right") or below
    ("below") all the panels of a figure. None when there is nothing to name."""
    if handles is None:
        src = target if isinstance(target, Axes) else target.axes[0]
        handles, labels = src.get_legend_handles_labels()
    if labels is None:
        labels = [str(h.get_label()) for h in handles]
    if not handles:
        return None
    kw: dict[str, Any] = {"fontsize": fontsize, "title": title, "title_fontsize": fontsize,
                          "frameon": False, "ncols": ncols}  # fmt: skip
    if isinstance(target, Axes):
        if where == "below":
            return target.legend(handles, labels, loc="upper center",
                                 bbox_to_anchor=(0.5, -0.18), **kw)  # fmt: skip
        return target.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), **kw)
    if where == "below":
        return target.legend(list(handles), list(labels), loc="outside lower center", **kw)
    return target.legend(list(handles), list(labels), loc="outside right upper", **kw)


def title(target: Axes | Figure, text: str, where: str | None = None, **kw: Any) -> None:
    """A title, with a second line naming the filter or the selection shown (wrapped at
    ``width`` characters: 70 for an axes, 120 for a figure)."""
    import textwrap

    width = kw.pop("width", 70 if isinstance(target, Axes) else 120)
    lines = [text, *textwrap.wrap(where or "", width)]
    full = "\n".join(line for line in lines if line)
    if isinstance(target, Axes):
        target.set_title(full, fontsize=kw.pop("fontsize", 10), **kw)
    else:
        target.suptitle(full, fontsize=kw.pop("fontsize", 11), **kw)


def bar_labels(ax: Axes, bars: Any, fmt: Callable[[float], str], **kw: Any) -> None:
    """Value labels on bars (above them, small)."""
    ax.bar_label(bars, labels=[fmt(float(b.get_height())) for b in bars],
                 fontsize=kw.pop("fontsize", 7), padding=kw.pop("padding", 2), **kw)  # fmt: skip


# ------------------------------------------------------------------------------ figures, files
#: the file formats figures are written in
FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
#: the formats a browser shows inline (the HTML report embeds these)
BROWSER_FORMATS: tuple[str, ...] = ("png", "svg")
DPI = 110


class NoData(SpattenError):
    """A figure has nothing to draw (no run has the data, or every value is missing): it is
    skipped, never written as empty axes. The message says which figure and why."""


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """A figure on the Agg canvas with constrained layout (room for outside legends)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finite_any(a: Any) -> bool:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(arr.size) and bool(np.isfinite(arr).any())


def has_data(fig: Figure) -> bool:
    """True when some axes of ``fig`` show data: a line with a finite point, a bar of finite
    non-zero size, a non-empty scatter or span collection, or an image; reference lines
    (:func:`reference_line`), legends and colour bars do not count."""
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        for ln in ax.get_lines():
            if ln.get_gid() == REFERENCE_GID:
                continue
            if _finite_any(ln.get_xdata()) and _finite_any(ln.get_ydata()):
                xs = np.asarray(ln.get_xdata(), float)
                ys = np.asarray(ln.get_ydata(), float)
                if (np.isfinite(xs) & np.isfinite(ys)).any():
                    return True
        for p in ax.patches:
            if isinstance(p, Rectangle) and p.get_gid() != REFERENCE_GID:
                w, h = p.get_width(), p.get_height()
                if math.isfinite(w) and math.isfinite(h) and w != 0 and h != 0:
                    return True
        for c in ax.collections:
            if isinstance(c, Collection) and c.get_gid() != REFERENCE_GID:
                offs = np.asarray(c.get_offsets(), float)
                if offs.size and np.isfinite(offs).all(axis=-1).any() and len(c.get_paths()):
                    return True
                if not offs.size and len(c.get_paths()) and _paths_finite(c):
                    return True
        if any(isinstance(im, AxesImage) for im in ax.images):
            return True
    return False


def _paths_finite(c: Collection) -> bool:
    for p in c.get_paths():
        v = np.asarray(p.vertices, float)
        if v.size and np.isfinite(v).all() and np.ptp(v[:, 0]) > 0:
            return True
    return False


def output_path(path: str | Path, fmt: str | None = None) -> Path:
    """``path`` with the suffix of ``fmt`` (``fmt`` None: the suffix of ``path`` when it is a
    format's, else PNG)."""
    p = Path(path)
    known = p.suffix.lstrip(".").lower() in FORMATS
    if fmt is None:
        fmt = p.suffix.lstrip(".").lower() if known else "png"
    if fmt not in FORMATS:
        raise SpattenError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    # a name with dots (vs_memory.channels) keeps them: the format's suffix is added
    return p.with_suffix(f".{fmt}") if known else p.with_name(f"{p.name}.{fmt}")


def save(fig: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``fig`` to ``path`` in ``fmt`` (png, pdf or svg; default: the path's suffix, else
    PNG), atomically (a temporary renamed; removed on failure) and reproducibly (no dates in PDF
    or SVG). Raises :class:`NoData` and writes nothing when the figure shows no data."""
    from matplotlib import rc_context

    from spatten_sim.files import atomic_output

    p = output_path(path, fmt)
    kind = p.suffix[1:]
    if not has_data(fig):
        raise NoData(f"{p.name}: no data to draw")
    meta: dict[str, Any] = {"pdf": {"CreationDate": None, "ModDate": None},
                            "svg": {"Date": None}, "png": {}}[kind]  # fmt: skip
    with (
        atomic_output(p) as tmp,
        rc_context({"svg.hashsalt": "spatten-sim", "svg.fonttype": "path"}),
    ):
        fig.savefig(tmp, format=kind, dpi=DPI, metadata=meta)
    return p


@dataclass(frozen=True)
class Drawn:
    """A figure to write under ``name`` (a file name without suffix), or why it was skipped."""

    name: str
    figure: Figure | None
    why: str = ""  #: the reason it was skipped (figure None)


def draw(name: str, fn: Callable[..., Figure], *args: Any, **kw: Any) -> Drawn:
    """``fn(*args, **kw)`` as a :class:`Drawn`; a :class:`NoData` (or a figure without data)
    becomes a skipped figure with its reason. Other errors propagate (a bad input writes no
    file)."""
    try:
        fig = fn(*args, **kw)
    except NoData as exc:
        return Drawn(name, None, str(exc))
    if not has_data(fig):
        return Drawn(name, None, "no data to draw")
    return Drawn(name, fig)


def stderr_note(msg: str) -> None:
    """Print a note about a skipped figure on stderr."""
    print(msg, file=sys.stderr, flush=True)


def write_all(
    drawn: Sequence[Drawn],
    out: str | Path,
    fmt: str = "png",
    *,
    prefix: str = "",
    say: Callable[[str], None] | None = stderr_note,
    remove_stale: bool = False,
) -> list[Path]:
    """Write every drawn figure into ``out`` as ``<prefix><name>.<fmt>``; each skipped one is
    said (``say``, default stderr: ``skipped NAME: why``) and no file is written for it; with
    ``remove_stale`` an older file of that name (from a run that had the data) is removed, so
    the folder never shows a figure its data no longer back."""
    out = Path(out)
    paths = []
    for d in drawn:
        target = output_path(out / f"{prefix}{d.name}", fmt)
        why = d.why
        if d.figure is not None:
            try:
                paths.append(save(d.figure, target))
                continue
            except NoData as exc:
                why = str(exc)
        note = f"skipped {target.name}: {why}"
        if remove_stale and target.is_file() and not target.is_symlink():
            target.unlink()
            note += " (an older file of that name removed)"
        if say is not None:
            say(note)
    return paths
