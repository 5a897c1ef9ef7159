"""Speed of the HBM2 model: requests per second of dram-bench and per-call cost of access().

Run: ``python benchmarks/bench_dram.py [--requests 1000000] [--repeats 3]``.
The references simulate 140-280k requests/s sequential and 56-141k random on this kind of
machine (docs/dram-reference-numbers.md, last section). Speed figures live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from spatten_sim.hw.dram import DRAM_PRESETS
from spatten_sim.hw.dram.bench import pattern_addresses, run_bench
from spatten_sim.hw.memory import make_memory, with_crossbar


def bench_pattern(preset: str, pattern: str, requests: int, channels: int | None, repeats: int):
    """Best-of-``repeats`` requests/s of one saturated dram-bench run (trace loading excluded)."""
    cfg = DRAM_PRESETS[preset]
    if channels:
        cfg = dataclasses.replace(cfg, channels=channels)
    addrs, _ = pattern_addresses(pattern, requests, cfg)
    best = None
    for _ in range(repeats):
        r = run_bench(cfg, addrs, pattern=pattern)
        if best is None or r.cpu_seconds < best.cpu_seconds:
            best = r
    return best


def bench_calls(batch: int, calls: int, crossbar: bool) -> float:
    """CPU microseconds per ``access()`` call for batches of ``batch`` random 32-B transactions that
    arrive while the previous batch is still in flight (how the core drives the model)."""
    mem = make_memory({"preset": "hbm2"})
    if crossbar:
        mem = with_crossbar(mem)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 1 << 30, batch) // 32 * 32 for _ in range(calls)]
    mem.access(batches[0][:1], np.zeros(1, dtype=np.int64))  # load the compiled kernel
    t = 1000
    t0 = time.process_time()
    for addrs in batches:
        done = mem.access(addrs, t + np.arange(batch, dtype=np.int64) // 32)
        t = (int(done.max()) + t) // 2 + 1
    return (time.process_time() - t0) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print("best of --repeats; requests/s by wall clock and by process CPU time")
    print(
        f"{'preset':18s} {'pattern':8s} {'ch':>3s} {'req/s wall':>12s} {'req/s CPU':>12s} {'GB/s':>8s}"
    )
    for preset, channels in (("hbm2", None), ("hbm2", 8), ("hbm2-legacy", None)):
        for pattern in ("seq", "random"):
            r = bench_pattern(preset, pattern, args.requests, channels, args.repeats)
            print(
                f"{preset:18s} {pattern:8s} {r.channels:3d} {r.requests_per_second:12,.0f} "
                f"{r.requests / r.cpu_seconds:12,.0f} {r.bandwidth_gbps:8.1f}"
            )
    print()
    print(f"{'access() batch':>15s} {'crossbar':>9s} {'CPU us/call':>12s}")
    for batch, calls in ((1, 5000), (100, 3000), (1000, 500)):
        for xb in (False, True):
            print(f"{batch:15d} {xb!s:>9s} {bench_calls(batch, calls, xb):12.1f}")


if __name__ == "__main__":
    main()
