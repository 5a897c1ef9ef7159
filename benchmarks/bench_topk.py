"""Throughput of the Numba top-k engine (rows/s) and its latency against the official model.

Run: ``python benchmarks/bench_topk.py [--rows 100000] [--n 1024] [--k 256]``.
Speed figures live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spatten_sim.algo.sorter import compare_topk_vs_sorter
from spatten_sim.algo.topk import engine_latency_stats, official_latency_stats, topk_rows


def bench_rows(rows: int, n: int, k: int, parallel: bool, repeats: int = 3) -> float:
    """Best-of-``repeats`` rows per second of ``topk_rows`` on uniform float32 rows."""
    rng = np.random.default_rng(0)
    values = rng.random((rows, n), dtype=np.float32)
    topk_rows(values[:8], None, k, parallel=parallel)  # compile / load the cache
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        topk_rows(values, None, k, parallel=parallel)
        best = min(best, time.perf_counter() - t0)
    return rows / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--trials", type=int, default=400)
    args = ap.parse_args()

    for parallel in (False, True):
        rps = bench_rows(args.rows, args.n, args.k, parallel)
        label = "parallel" if parallel else "serial"
        print(f"topk_rows {label:8s} n={args.n} k={args.k}: {rps:,.0f} rows/s")

    print("\nquick-select cycles, ours (select_cycles) vs the official model, P=16, overhead 3")
    print(f"{'n':>6} {'k':>5} {'official':>9} {'ours':>9} {'ratio':>6} {'rounds off/ours':>16}")
    for n, k in [(1024, 512), (1024, 32), (4096, 16), (128, 64)]:
        off = official_latency_stats(n, k, trials=args.trials)
        ours = engine_latency_stats(n, k, trials=args.trials)
        print(
            f"{n:>6} {k:>5} {off.mean_cycles:>9.1f} {ours.mean_cycles:>9.1f} "
            f"{ours.mean_cycles / off.mean_cycles:>6.3f} "
            f"{off.mean_rounds:>7.2f}/{ours.mean_rounds:<7.2f}"
        )

    print("\n1024-element median, 200 inputs: top-k engine vs Batcher sorter (32 compare units)")
    for row in compare_topk_vs_sorter(1024, 512).rows():
        print(f"  {row}")


if __name__ == "__main__":
    main()
