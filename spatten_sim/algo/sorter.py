"""Batcher odd-even merge sorter: the baseline the SpAtten paper compares its top-k engine with.

Hardware modelled
-----------------
The paper (Sec. V) reports that its quick-select top-k engine has 1.4x the throughput and 3.5x lower
power than a top-k built on a Batcher odd-even merge sorter, on a 1024-element median selection.
This module models that sorter so a validation row can compare both on the same footing:

* **Network.** Batcher's odd-even merge sort (K. E. Batcher, "Sorting networks and their
  applications", AFIPS Spring Joint Computer Conference 1968; D. E. Knuth, *The Art of Computer
  Programming* Vol. 3, 2nd ed., §5.3.4, exercise 5.3.4-(10) and eq. (11)). For ``n = 2**p``:
  ``size(n) = (p**2 - p + 4) * 2**(p - 2) - 1`` compare-exchange elements and
  ``depth(n) = p * (p + 1) / 2`` stages (n=8: 19 and 6; n=16: 63 and 10; n=1024: 24063 and 55).
  Any other ``n`` uses the network of the next power of two with every comparator that touches a
  padding position removed (the padding holds +inf at the end and never moves, so the pruned
  network still sorts ``n`` elements).
* **Time-multiplexed datapath.** ``C`` physical compare-exchange units process the network stage by
  stage: a stage of ``c`` comparators takes ``ceil(c / C)`` cycles, and the next stage can start
  only after the results are written back (data dependence), which costs ``stage_overhead_cycles``
  (default 3: read, compare-exchange register, write back: the same pipeline as one round of the
  top-k engine). ``C`` equal to the widest stage and zero overhead is the fully parallel network.
* **Top-k with the order kept.** The sorter finds the threshold (the element of descending rank
  ``k``); the order-keeping filter pass over the original stream is the same as the engine's, and
  so is the fill of the stream at ``P`` elements per cycle. Both designs are charged both.

Counts for the energy model: ``compare_exchanges`` (a comparator plus the two multiplexers of the
swap), ``comparisons`` (every comparator evaluation, the filter's included), and
``comparator_cycles`` (physical comparators x busy cycles: what toggles, used or not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatten_sim.algo.topk import (
    DEFAULT_COMPARATORS,
    DEFAULT_ROUND_OVERHEAD_CYCLES,
    FILTER_EXTRA_CYCLES,
    topk_rows_detail,
)

__all__ = [
    "PAPER_POWER_RATIO",
    "PAPER_THROUGHPUT_RATIO",
    "SorterCost",
    "TopKVsSorter",
    "batcher_depth",
    "batcher_network",
    "batcher_size",
    "batcher_stage_sizes",
    "compare_topk_vs_sorter",
    "sorter_topk_cost",
]

PAPER_THROUGHPUT_RATIO = 1.4
"""SpAtten paper: top-k engine throughput over the Batcher sorter's, 1024-element median."""
PAPER_POWER_RATIO = 3.5
"""SpAtten paper: Batcher sorter power over the top-k engine's, same task."""


def _log2_exact(n: int) -> int:
    p = int(n).bit_length() - 1
    if n < 1 or (1 << p) != n:
        raise ValueError(f"closed forms hold for powers of two, got n={n}")
    return p


def batcher_size(n: int) -> int:
    """Compare-exchange elements of Batcher's odd-even merge sort for ``n = 2**p`` (p >= 1).

    ``(p**2 - p + 4) * 2**(p - 2) - 1`` (Batcher 1968; Knuth TAOCP Vol. 3 §5.3.4). n=1 gives 0.
    """
    p = _log2_exact(n)
    if p == 0:
        return 0
    return ((p * p - p + 4) << p) // 4 - 1


def batcher_depth(n: int) -> int:
    """Stages (delay) of Batcher's odd-even merge sort for ``n = 2**p``: ``p * (p + 1) / 2``."""
    p = _log2_exact(n)
    return p * (p + 1) // 2


def _stage_pairs(n_pad: int, n: int):
    """Yield one ``(lo, hi)`` index-array pair per stage of the network on ``n_pad`` wires,
    keeping only comparators whose both wires are below ``n``.

    Iterative form of the odd-even merge sort (Knuth §5.3.4 Algorithm M's structure): for merge
    block ``p = 1, 2, 4, ...`` and distance ``k = p, p/2, ..., 1``, wires ``a`` and ``a + k`` are
    compared when both lie in the same block of ``2p`` wires and ``a`` is in the right phase.
    """
    p = 1
    while p < n_pad:
        k = p
        while k >= 1:
            a = np.arange(n_pad - k, dtype=np.int64)
            j = k % p
            phase_ok = ((a - j) % (2 * k)) < k
            if j > 0:
                phase_ok &= a >= j
            same_block = (a // (2 * p)) == ((a + k) // (2 * p))
            lo = a[phase_ok & same_block]
            hi = lo + k
            keep = hi < n
            yield lo[keep], hi[keep]
            k //= 2
        p *= 2


def batcher_network(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The odd-even merge sort network for ``n`` wires as a list of stages ``(lo, hi)``.

    Each stage holds disjoint comparators; a comparator puts the smaller value on wire ``lo``.
    Stages left empty by the pruning of a non-power-of-two ``n`` are dropped.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n <= 1:
        return []
    n_pad = 1 << (int(n) - 1).bit_length()
    return [(lo, hi) for lo, hi in _stage_pairs(n_pad, int(n)) if lo.size]


def batcher_stage_sizes(n: int) -> np.ndarray:
    """Comparators in each stage of :func:`batcher_network` (int64 array, one entry per stage)."""
    return np.array([lo.size for lo, _ in batcher_network(n)], dtype=np.int64)


@dataclass(frozen=True)
class SorterCost:
    """Cycles and operation counts of a top-k (or median) by a time-multiplexed Batcher sorter.

    Attributes:
        n, k: problem size and values kept.
        compare_units: physical compare-exchange units ``C``.
        network_size: compare-exchange elements in the network (= ``compare_exchanges`` of a sort).
        depth: stages of the network.
        fill_cycles: ``ceil(n / P)``, the stream written into the buffer.
        sort_cycles: ``sum(ceil(c_s / C) + stage_overhead_cycles)`` over stages.
        filter_cycles: the order-keeping filter pass, as the top-k engine's.
        cycles: fill + sort + filter.
        compare_exchanges: compare-exchange operations of the sort.
        comparisons: every comparator evaluation: sort + filter (2 per element).
        comparator_cycles: ``C`` x sort cycles without the overheads + the filter's 2P x beats.
    """

    n: int
    k: int
    compare_units: int
    network_size: int
    depth: int
    fill_cycles: int
    sort_cycles: int
    filter_cycles: int
    cycles: int
    compare_exchanges: int
    comparisons: int
    comparator_cycles: int


def sorter_topk_cost(
    n: int,
    k: int,
    compare_units: int = 2 * DEFAULT_COMPARATORS,
    stream_width: int = DEFAULT_COMPARATORS,
    stage_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
) -> SorterCost:
    """Cost of a top-k of ``n`` elements on a Batcher sorter with ``compare_units`` units.

    Args:
        n: elements in the stream.
        k: elements kept (0 < k < n sorts; otherwise nothing is sorted, as for the engine).
        compare_units: ``C``, physical compare-exchange units (default: the engine's 2 x 16).
        stream_width: ``P``, elements per cycle of the stream in and out (the engine's 16).
        stage_overhead_cycles: write-back latency between dependent stages.
    """
    if n < 0 or k < 0:
        raise ValueError(f"n and k must be >= 0, got n={n}, k={k}")
    if compare_units < 1 or stream_width < 1 or stage_overhead_cycles < 0:
        raise ValueError("compare_units and stream_width must be >= 1, overhead >= 0")
    if n == 0 or k == 0:
        return SorterCost(n, k, compare_units, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    beats = math.ceil(n / stream_width)
    filter_cycles = beats + stage_overhead_cycles + FILTER_EXTRA_CYCLES
    filter_comparator_cycles = 2 * stream_width * beats
    if k >= n:
        sizes = np.zeros(0, dtype=np.int64)
    else:
        sizes = batcher_stage_sizes(n)
    busy = int(np.sum(-(-sizes // compare_units)))
    sort_cycles = busy + stage_overhead_cycles * int(sizes.size)
    size = int(sizes.sum())
    return SorterCost(
        n=int(n),
        k=int(k),
        compare_units=int(compare_units),
        network_size=size,
        depth=int(sizes.size),
        fill_cycles=beats,
        sort_cycles=sort_cycles,
        filter_cycles=filter_cycles,
        cycles=beats + sort_cycles + filter_cycles,
        compare_exchanges=size,
        comparisons=size + 2 * int(n),
        comparator_cycles=compare_units * busy + filter_comparator_cycles,
    )


@dataclass(frozen=True)
class TopKVsSorter:
    """The top-k engine (mean over random inputs) against a Batcher sorter, same task and stream.

    Ratios are sorter / engine: above 1 means the engine is better (faster, fewer operations).
    """

    n: int
    k: int
    trials: int
    engine_comparators: int
    sorter_compare_units: int
    engine_select_cycles: float
    sorter_sort_cycles: int
    engine_cycles: float
    sorter_cycles: int
    engine_comparisons: float
    sorter_comparisons: int
    engine_comparator_cycles: float
    sorter_comparator_cycles: int

    @property
    def throughput_ratio(self) -> float:
        """Engine throughput over the sorter's for back-to-back calls (total cycles)."""
        return self.sorter_cycles / self.engine_cycles

    @property
    def select_ratio(self) -> float:
        """Threshold search only: sorter sort cycles over engine quick-select cycles."""
        return self.sorter_sort_cycles / self.engine_select_cycles

    @property
    def comparison_ratio(self) -> float:
        return self.sorter_comparisons / self.engine_comparisons

    @property
    def comparator_cycle_ratio(self) -> float:
        return self.sorter_comparator_cycles / self.engine_comparator_cycles

    def rows(self) -> list[str]:
        """Human-readable lines: quantity, engine, sorter, sorter/engine."""
        return [
            f"cycles (select vs sort): {self.engine_select_cycles:.1f} vs "
            f"{self.sorter_sort_cycles} -> x{self.select_ratio:.2f}",
            f"cycles (fill+select/sort+filter): {self.engine_cycles:.1f} vs "
            f"{self.sorter_cycles} -> x{self.throughput_ratio:.2f} "
            f"(paper x{PAPER_THROUGHPUT_RATIO})",
            f"comparisons: {self.engine_comparisons:.0f} vs {self.sorter_comparisons} "
            f"-> x{self.comparison_ratio:.2f}",
            f"comparator-cycles: {self.engine_comparator_cycles:.0f} vs "
            f"{self.sorter_comparator_cycles} -> x{self.comparator_cycle_ratio:.2f}",
        ]


def compare_topk_vs_sorter(
    n: int = 1024,
    k: int = 512,
    trials: int = 200,
    comparators: int = DEFAULT_COMPARATORS,
    sorter_compare_units: int | None = None,
    round_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    seed: int = 1,
) -> TopKVsSorter:
    """Engine vs sorter on ``trials`` random float32 inputs of ``n`` (default: the median of 1024).

    The sorter gets as many compare units as the engine has comparators (two arrays of
    ``comparators``) unless ``sorter_compare_units`` says otherwise, the same stream width and the
    same per-stage overhead as the engine's per-round overhead.
    """
    units = 2 * comparators if sorter_compare_units is None else int(sorter_compare_units)
    gen = np.random.default_rng(int(seed))
    vals = gen.random((int(trials), int(n)), dtype=np.float32)
    res = topk_rows_detail(vals, None, int(k), comparators, int(seed), round_overhead_cycles)
    sorter = sorter_topk_cost(n, k, units, comparators, round_overhead_cycles)
    return TopKVsSorter(
        n=int(n),
        k=int(k),
        trials=int(trials),
        engine_comparators=2 * int(comparators),
        sorter_compare_units=units,
        engine_select_cycles=float(res.select_cycles.mean()),
        sorter_sort_cycles=sorter.sort_cycles,
        engine_cycles=float(res.cycles.mean()),
        sorter_cycles=sorter.cycles,
        engine_comparisons=float(res.comparisons.mean()),
        sorter_comparisons=sorter.comparisons,
        engine_comparator_cycles=float(res.comparator_cycles.mean()),
        sorter_comparator_cycles=sorter.comparator_cycles,
    )
