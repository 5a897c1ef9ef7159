"""The top-k engines: local-V top-k per query (in the pipeline) and token/head top-k (between
layers). The unit to change to try another top-k engine (register it in ``TOPK_IMPLS``).

Hardware [P, docs/spatten.md §3; RTL TopK.scala, utils/QuickSelect.scala]: quick-select with a
random pivot; two arrays of ``comparators`` (16) comparators (< pivot, > pivot), zero
eliminators, FIFO_L/FIFO_R. A call over ``n`` elements costs the rounds the functional phase
counted (``ceil(n/16) + 3`` cycles a round, recursing until the k-th element is isolated: the
official TopKLatencyModel.scala), then the filter pass hands the kept elements on, in order.

Stream interface of the local-V engine (docs/timing-model.md §3), one job at a time:

* select mode (the query prunes V rows): *fill* takes the ``n`` probabilities at ``comparators``
  a cycle as they leave the decision unit (the first round compares them as they stream in);
  then ``max(0, cycles - ceil(n / comparators))`` cycles of further rounds; then *emit* hands
  the ``m`` kept (probability, index) pairs to probxV at ``comparators`` a cycle;
* pass mode (nothing pruned): the elements pass at ``comparators`` a cycle, depth 1 (the RTL's
  skip path, which waits for the engine to be empty: StageTopK's ``num_onfly_transaction``).

Actions per active cycle of a call: both comparator arrays compare ``comparators`` elements
(``comparisons`` = 2 x comparators x cycles), ``zero_eliminator_ops`` and ``fifo_accesses``
= comparators x cycles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import numpy as np

from spatten_sim.config import HwConfig
from spatten_sim.hw.units.base import Actions, TopkUnit, ceil_div


class QuickSelectTopk:
    """The paper's quick-select engine (``topk.impl: quick_select``)."""

    def __init__(self, cfg: HwConfig) -> None:
        self.rate = cfg.topk.comparators
        self.depth = 1

    @overload
    def is_select(self, n: int, m: int, cycles: int) -> bool: ...
    @overload
    def is_select(self, n: np.ndarray, m: np.ndarray, cycles: np.ndarray) -> np.ndarray: ...
    def is_select(
        self, n: int | np.ndarray, m: int | np.ndarray, cycles: int | np.ndarray
    ) -> bool | np.ndarray:
        """Does the job use the engine (select mode), or pass through it? (Elementwise for
        arrays of jobs.)"""
        if isinstance(n, np.ndarray):
            return (m < n) | (cycles > 0)
        return m < n or cycles > 0

    @overload
    def extra_rounds(self, n: int, cycles: int) -> int: ...
    @overload
    def extra_rounds(self, n: np.ndarray, cycles: np.ndarray) -> np.ndarray: ...
    def extra_rounds(self, n: int | np.ndarray, cycles: int | np.ndarray) -> int | np.ndarray:
        """Cycles of rounds after the fill pass (which is the first round's compare).
        (Elementwise for arrays of jobs.)"""
        if isinstance(n, np.ndarray):
            return np.maximum(0, cycles - ceil_div(n, self.rate))
        return max(0, int(cycles) - ceil_div(n, self.rate))

    def count(self, actions: Actions, unit: str, cycles: int) -> None:
        p = self.rate
        a = actions[unit]
        a["comparisons"] += 2 * p * cycles
        a["zero_eliminator_ops"] += p * cycles
        a["fifo_accesses"] += p * cycles


TOPK_IMPLS: dict[str, Callable[[HwConfig], TopkUnit]] = {"quick_select": QuickSelectTopk}
