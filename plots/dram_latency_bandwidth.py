"""Latency vs bandwidth of our HBM2 model against the reference simulators.

Run: ``python plots/dram_latency_bandwidth.py [--out plots/dram_latency_bandwidth.png]``.
Left: Ramulator 2.1's loaded-latency curve (1 channel, pass-through mapping, no refresh) and
ours, measured the same way (a random probe beside a sequential stream offered at each rate).
Right: mean latency against bandwidth as the number of outstanding requests grows (1 ... unlimited)
for the three presets and the figures of docs/dram-reference-numbers.md.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from spatten_sim.hw.dram import DRAM_PRESETS
from spatten_sim.hw.dram.bench import pattern_addresses, run_bench
from spatten_sim.hw.dram.validation import loaded_latency, scenarios

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_suffix(".png")))
    ap.add_argument("--requests", type=int, default=60_000)
    args = ap.parse_args()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))

    cfg = dataclasses.replace(
        DRAM_PRESETS["hbm2"], channels=1, mapping="RoBkCoBgPcCh", refresh=False
    ).validate()
    rates = np.concatenate([np.linspace(0.5, 30.0, 24), [31.0, 31.5, 32.0]])
    ours = [loaded_latency(cfg, float(r), args.requests)[:2] for r in rates]
    ax1.plot([o[0] for o in ours], [o[1] for o in ours], "-o", ms=3, label="ours (hbm2)")
    ref = [s for s in scenarios() if s.key.startswith("r21-curve-")]
    ax1.plot(
        [s.ref_bandwidth_gbps for s in ref], [s.ref_latency_ns for s in ref], "s",
        color="k", label="Ramulator 2.1",
    )  # fmt: skip
    ax1.set_xlabel("bandwidth (GB/s)")
    ax1.set_ylabel("mean read latency (ns)")
    ax1.set_title("1 HBM2 channel, loaded latency (Ramulator 2.1 test)")
    ax1.set_ylim(0, 120)
    ax1.legend()

    series = [
        ("hbm2-spatten-rtl", {"channels": 8, "max_outstanding_per_channel": 0}, "Ramulator 2.0a",
         "r20a-8ch-", "tab:orange"),
        ("hbm2-legacy", {}, "DRAMsim3", "ds3-", "tab:green"),
    ]  # fmt: skip
    for preset, ov, refname, prefix, color in series:
        for pattern, style in (("seq", "-"), ("random", "--")):
            bw, lat = sweep(preset, ov, pattern, args.requests)
            ax2.plot(bw, lat, style, color=color, marker=".", label=f"ours {preset} {pattern}")
            refs = [s for s in scenarios() if s.key.startswith(f"{prefix}{pattern}-")]
            ax2.plot(
                [s.ref_bandwidth_gbps for s in refs], [s.ref_latency_ns for s in refs],
                "o" if pattern == "seq" else "^", color=color, mfc="none", ms=8,
                label=f"{refname} {pattern}",
            )  # fmt: skip
    for s in scenarios():
        if s.key in ("r21-8ch-seq", "r21-8ch-random"):
            ax2.plot(s.ref_bandwidth_gbps, s.ref_latency_ns, "s", color="k", ms=7)
    bw, lat = zip(*[(o.bandwidth_gbps, o.latency_ns) for o in _r21_8ch()], strict=True)
    ax2.plot(bw, lat, "x", color="tab:blue", ms=9, label="ours hbm2 8 ch (black: Ramulator 2.1)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("bandwidth (GB/s), 8 channels")
    ax2.set_ylabel("mean read latency (ns)")
    ax2.set_title("outstanding requests 1, 2, 4 ... unlimited")
    ax2.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


def _r21_8ch():
    from spatten_sim.hw.dram.validation import run

    return [run(s) for s in scenarios() if s.key in ("r21-8ch-seq", "r21-8ch-random")]


if __name__ == "__main__":
    main()
