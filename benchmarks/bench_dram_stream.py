"""The HBM2 kernels on a recorded DRAM stream: identical results, and how fast each is.

Run: ``python benchmarks/bench_dram_stream.py [--stream gpt2-medium|gpt2-small|FILE.npz]``.
The stream of an official CSV's replay on ``spatten.yaml`` is recorded on first use into
``$SPATTEN_SIM_CACHE/bench/`` (as ``spatten-sim bench`` does). Both kernels replay it through a
fresh HBM2 model; the script checks that every completion cycle and every statistic agree, then
prints transactions per CPU second of each. Speed figures live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from spatten_sim.bench import resolve_input
from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory
from spatten_sim.hw.dram.stream import RecordedStream, replay


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stream", default="gpt2-medium",
                    help="gpt2-medium, gpt2-small (recorded on first use) or a stream .npz")  # fmt: skip
    args = ap.parse_args()
    path = Path(args.stream)
    if not path.suffix:
        path = resolve_input(f"stream:{args.stream}", lambda m: print(m, file=sys.stderr))
    stream = RecordedStream.load(path)
    print(f"{path}: {stream.n_batches:,} batches, {stream.n_requests:,} transactions")
    results = {}
    for kernel in ("fast", "reference"):
        mem = DramMemory(DRAM_PRESETS[stream.preset], 1.0, kernel=kernel)
        r = replay(stream, mem)
        results[kernel] = r
        print(f"{kernel:9s} kernel {mem.kernel_cpu_seconds:7.2f} CPU s "
              f"({stream.n_requests / mem.kernel_cpu_seconds / 1e6:5.2f} M transactions/s), "
              f"replay {r.cpu_seconds:7.2f} CPU s")  # fmt: skip
    same = np.array_equal(results["fast"].done, results["reference"].done)
    same_stats = results["fast"].stats == results["reference"].stats
    print(f"identical completion cycles: {same}; identical statistics: {same_stats}")
    return 0 if same and same_stats else 1


if __name__ == "__main__":
    sys.exit(main())
