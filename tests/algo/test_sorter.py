"""Tests of the Batcher odd-even merge sorter model."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from spatten_sim.algo.sorter import (
    batcher_depth,
    batcher_network,
    batcher_size,
    batcher_stage_sizes,
    compare_topk_vs_sorter,
    sorter_topk_cost,
)
from spatten_sim.algo.topk import FILTER_EXTRA_CYCLES


def run_network(network, values: np.ndarray) -> np.ndarray:
    """Apply the comparators to the last axis of ``values`` (batched)."""
    out = values.copy()
    for lo, hi in network:
        a = out[..., lo]
        b = out[..., hi]
        out[..., lo] = np.minimum(a, b)
        out[..., hi] = np.maximum(a, b)
    return out


# Known sizes and depths (Knuth TAOCP Vol. 3 §5.3.4; Batcher 1968).
KNOWN = {2: (1, 1), 4: (5, 3), 8: (19, 6), 16: (63, 10), 32: (191, 15), 1024: (24063, 55)}


@pytest.mark.parametrize(("n", "size_depth"), sorted(KNOWN.items()))
def test_closed_forms_and_construction(n, size_depth):
    size, depth = size_depth
    assert batcher_size(n) == size
    assert batcher_depth(n) == depth
    sizes = batcher_stage_sizes(n)
    assert int(sizes.sum()) == size
    assert sizes.size == depth


def test_closed_forms_refuse_non_powers_of_two():
    with pytest.raises(ValueError):
        batcher_size(12)
    with pytest.raises(ValueError):
        batcher_depth(0)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_sorts_every_zero_one_input(n):
    """0-1 principle (Knuth §5.3.4 Theorem Z): sorting all 2**n 0-1 inputs proves the network."""
    inputs = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8)
    out = run_network(batcher_network(n), inputs)
    np.testing.assert_array_equal(out, np.sort(inputs, axis=1))


@pytest.mark.parametrize("n", [3, 5, 7, 12, 13, 100])
def test_pruned_network_sorts_any_n(n):
    net = batcher_network(n)
    rng = np.random.default_rng(n)
    vals = rng.integers(0, 5, size=(300, n))
    np.testing.assert_array_equal(run_network(net, vals), np.sort(vals, axis=1))
    assert len(net) <= batcher_depth(1 << (n - 1).bit_length())
    assert sum(lo.size for lo, _ in net) < batcher_size(1 << (n - 1).bit_length())


def test_stages_are_disjoint():
    for lo, hi in batcher_network(64):
        wires = np.concatenate([lo, hi])
        assert np.unique(wires).size == wires.size
        assert (lo < hi).all()


def test_sorter_cost_model_by_hand():
    # n=8 with 4 units: stage sizes of the 8-wire network, each ceil(c/4) + 3.
    sizes = batcher_stage_sizes(8)
    cost = sorter_topk_cost(8, 4, compare_units=4, stream_width=2, stage_overhead_cycles=3)
    assert cost.sort_cycles == sum(math.ceil(c / 4) + 3 for c in sizes)
    assert cost.fill_cycles == 4
    assert cost.filter_cycles == 4 + 3 + FILTER_EXTRA_CYCLES
    assert cost.cycles == cost.fill_cycles + cost.sort_cycles + cost.filter_cycles
    assert cost.compare_exchanges == 19
    assert cost.comparisons == 19 + 16
    # Fully parallel network: one cycle per stage, depth stages.
    full = sorter_topk_cost(8, 4, compare_units=4096, stage_overhead_cycles=0)
    assert full.sort_cycles == 6


def test_sorter_cost_edge_cases():
    assert sorter_topk_cost(0, 3).cycles == 0
    assert sorter_topk_cost(100, 0).cycles == 0
    everything = sorter_topk_cost(100, 100)
    assert everything.sort_cycles == 0 and everything.compare_exchanges == 0
    with pytest.raises(ValueError):
        sorter_topk_cost(10, 2, compare_units=0)


def test_more_units_fewer_cycles():
    cycles = [sorter_topk_cost(1024, 512, compare_units=u).sort_cycles for u in (8, 16, 32, 64)]
    assert all(a > b for a, b in itertools.pairwise(cycles))


def test_median_1024_engine_vs_sorter():
    """Same stream, same comparator budget: the engine does fewer operations and cycles."""
    cmp = compare_topk_vs_sorter(1024, 512, trials=50)
    sorter = sorter_topk_cost(1024, 512)
    assert cmp.sorter_sort_cycles == sorter.sort_cycles
    assert cmp.sorter_comparisons == 24063 + 2 * 1024
    # The engine's quick-select reads ~3.4 n elements for a median (2 + 2 ln 2 ≈ 3.39, Knuth
    # §5.3.3 / Floyd-Rivest): 2 comparisons each, plus 2 n in the filter pass.
    per_elem = (cmp.engine_comparisons - 2 * 1024) / (2 * 1024)
    assert 2.9 < per_elem < 3.9
    assert cmp.throughput_ratio > 1.0
    assert cmp.comparison_ratio > 1.0
    assert cmp.comparator_cycle_ratio > 1.0
