"""Latency vs bandwidth of our HBM2 model against the reference simulators.

Run: ``python plots/dram_latency_bandwidth.py [--out plots/dram_latency_bandwidth.png]``
(``plots/make_all.py`` runs it with the other figures).
Left: Ramulator 2.1's loaded-latency curve (1 channel, pass-through mapping, no refresh) and
ours, measured the same way (a random probe beside a sequential stream offered at each rate).
Right: mean latency against bandwidth as the number of outstanding requests grows (1 ... unlimited)
for the three presets and the figures of docs/dram-reference-numbers.md.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spatten_sim.hw.dram import DRAM_PRESETS
from spatten_sim.hw.dram.bench import pattern_addresses, run_bench
from spatten_sim.hw.dram.validation import loaded_latency, scenarios
from spatten_sim.plots import style

OUTSTANDING = (1, 2, 4, 8, 16, 32, 64, 128, 0)


def sweep(preset: str, overrides: dict, pattern: str, requests: int) -> tuple[list, list]:
    cfg = dataclasses.replace(DRAM_PRESETS[preset], **overrides).validate()
    addrs, _ = pattern_addresses(pattern, requests, cfg)
    bw, lat = [], []
    for out in OUTSTANDING:
        r = run_bench(cfg, addrs, outstanding=out)
        bw.append(r.bandwidth_gbps)
        lat.append(r.avg_latency_ns)
    return bw, lat


def figure(requests: int = 60_000) -> Figure:
    """Both panels (the figure's style: spatten_sim.plots.style, legends outside the data)."""
    fig = style.new_figure(13.5, 5.0)
    ax1, ax2 = fig.subplots(1, 2)

    cfg = dataclasses.replace(
        DRAM_PRESETS["hbm2"], channels=1, mapping="RoBkCoBgPcCh", refresh=False
    ).validate()
    rates = np.concatenate([np.linspace(0.5, 30.0, 24), [31.0, 31.5, 32.0]])
    ours = [loaded_latency(cfg, float(r), requests)[:2] for r in rates]
    ax1.plot([o[0] for o in ours], [o[1] for o in ours], "-o", ms=3, color=style.SERIES_COLORS[0],
             label="ours (hbm2)")  # fmt: skip
    ref = [s for s in scenarios() if s.key.startswith("r21-curve-")]
    ax1.plot(
        [s.ref_bandwidth_gbps for s in ref], [s.ref_latency_ns for s in ref], "s",
        color="k", label="Ramulator 2.1",
    )  # fmt: skip
    style.reference_line(ax1, "dram", x=32.0, label="peak: 32 GB/s")
    ax1.set_xlabel("bandwidth offered and served (GB/s)")
    ax1.set_ylabel("mean read latency (ns)")
    style.title(ax1, "1 HBM2 channel, loaded latency",
                "a random probe beside a sequential stream (Ramulator 2.1's test)")  # fmt: skip
    ax1.set_ylim(0, 120)
    ax1.grid(True, alpha=0.3)
    style.legend_outside(ax1, where="below", ncols=3)

    series = [
        ("hbm2-spatten-rtl", {"channels": 8, "max_outstanding_per_channel": 0}, "Ramulator 2.0a",
         "r20a-8ch-", style.SERIES_COLORS[1]),
        ("hbm2-legacy", {}, "DRAMsim3", "ds3-", style.SERIES_COLORS[2]),
    ]  # fmt: skip
    for preset, ov, refname, prefix, color in series:
        for pattern, ls in (("seq", "-"), ("random", "--")):
            bw, lat = sweep(preset, ov, pattern, requests)
            ax2.plot(bw, lat, ls, color=color, marker=".", label=f"ours {preset}, {pattern}")
            refs = [s for s in scenarios() if s.key.startswith(f"{prefix}{pattern}-")]
            ax2.plot(
                [s.ref_bandwidth_gbps for s in refs], [s.ref_latency_ns for s in refs],
                "o" if pattern == "seq" else "^", color=color, mfc="none", ms=8,
                label=f"{refname}, {pattern}",
            )  # fmt: skip
    r21 = [s for s in scenarios() if s.key in ("r21-8ch-seq", "r21-8ch-random")]
    ax2.plot([s.ref_bandwidth_gbps for s in r21], [s.ref_latency_ns for s in r21], "s",
             color="k", ms=7, label="Ramulator 2.1, 8 ch (seq, random)")  # fmt: skip
    bw, lat = zip(*[(o.bandwidth_gbps, o.latency_ns) for o in _r21_8ch()], strict=True)
    ax2.plot(bw, lat, "x", color=style.SERIES_COLORS[0], ms=9, ls="",
             label="ours hbm2, 8 ch (seq, random)")  # fmt: skip
    xs = [v for ln in ax2.get_lines() for v in ln.get_xdata()]
    ys = [v for ln in ax2.get_lines() for v in ln.get_ydata()]
    style.format_axis(ax2, "x", "dram.bandwidth_gbps", xs, log=True)  # plain tick labels
    style.format_axis(ax2, "y", "dram.avg_latency_ns", ys, log=True)
    ax2.set_xlabel("bandwidth served (GB/s), 8 channels")
    ax2.set_ylabel("mean read latency (ns)")
    style.title(ax2, "Latency vs bandwidth, 8 channels",
                "each curve: 1, 2, 4 ... 128, unlimited outstanding requests")  # fmt: skip
    ax2.grid(True, which="both", alpha=0.25)
    style.legend_outside(ax2)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_suffix(".png")))
    ap.add_argument("--requests", type=int, default=60_000)
    ap.add_argument("--format", choices=style.FORMATS, default=None,
                    help="png, pdf or svg (default: the --out suffix)")  # fmt: skip
    args = ap.parse_args()
    print(f"wrote {style.save(figure(args.requests), args.out, args.format)}")


def _r21_8ch():
    from spatten_sim.hw.dram.validation import run

    return [run(s) for s in scenarios() if s.key in ("r21-8ch-seq", "r21-8ch-random")]


if __name__ == "__main__":
    main()
