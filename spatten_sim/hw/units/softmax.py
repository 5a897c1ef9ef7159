"""Softmax: the unit to change to try a new softmax (register it in ``SOFTMAX_IMPLS``).

Two implementations, picked by ``softmax.impl``:

* ``two_pass`` -- the paper's design [P, docs/spatten.md §3; stage latencies from the official
  ``bert.cpp``]: pass 1 dequantizes (7 cycles, the scale folds in 1/sqrt(D)) and takes the exp
  by a 5th-order Taylor series on FP FMAs (21), accumulating the sum (23); pass 2 divides (29)
  and requantizes (7). Pass 2 needs the whole sum, so it is a barrier: it starts a query 23
  cycles after pass 1 took its last score. The exponentials wait in between in a score buffer of
  ``score_buffer_entries`` (the 1024-token context the SRAMs are sized for; a longer query is
  held whole). ``parallelism`` (8) elements a cycle in each pass; pass 2 of one query overlaps
  pass 1 of the next.
* ``pass_through`` -- the released RTL [RTL Softmax.scala forwards ``io.req`` to ``io.resp``
  unchanged; the FP datapath is commented out]: one stage of ``passthrough_latency_cycles``.

Stream interface: consumes QxK scores through an input FIFO of ``fifo_depth`` (128) entries,
produces one probability per score at ``parallelism`` a cycle. Actions per score (both
implementations count the paper's arithmetic, as the energy table is the paper's): 7 FP
multiplies (dequantize, 5 Taylor FMAs, requantize), 6 FP adds (5 FMAs + accumulate), 1 FP
divide, 2 FIFO accesses.
"""

from __future__ import annotations

from collections.abc import Callable

from spatten_sim.config import HwConfig
from spatten_sim.hw.units.base import Actions, Sizes, SoftmaxUnit, Stage, total


class TwoPassSoftmax:
    """The paper's softmax: exp + accumulate, then divide + requantize."""

    unit = "softmax"

    def __init__(self, cfg: HwConfig) -> None:
        s = cfg.softmax
        self.input_fifo = s.fifo_depth
        self.rate = s.parallelism
        self.exp_depth = s.dequant_latency_cycles + s.exp_latency_cycles
        self.div_depth = s.div_latency_cycles + s.quant_latency_cycles
        self.gate = s.accum_latency_cycles
        self.score_buffer = s.score_buffer_entries

    def stages(self, next_fifo: int) -> tuple[Stage, ...]:
        return (
            Stage("softmax_exp", self.unit, self.rate, self.exp_depth, self.score_buffer),
            Stage("softmax_div", "softmax_div", self.rate, self.div_depth, next_fifo, self.gate),
        )

    def count(self, actions: Actions, n: Sizes) -> None:
        _count(actions, n)


class PassThroughSoftmax:
    """The released RTL's softmax: the scores pass through one register stage."""

    unit = "softmax"

    def __init__(self, cfg: HwConfig) -> None:
        s = cfg.softmax
        self.input_fifo = s.fifo_depth
        self.rate = s.parallelism
        self.depth = s.passthrough_latency_cycles

    def stages(self, next_fifo: int) -> tuple[Stage, ...]:
        return (Stage("softmax", self.unit, self.rate, self.depth, next_fifo),)

    def count(self, actions: Actions, n: Sizes) -> None:
        _count(actions, n)


def _count(actions: Actions, n: Sizes) -> None:
    a = actions["softmax"]
    a["fp_mults"] += total(7 * n)
    a["fp_adds"] += total(6 * n)
    a["fp_divs"] += total(n)
    a["fifo_accesses"] += total(2 * n)


SOFTMAX_IMPLS: dict[str, Callable[[HwConfig], SoftmaxUnit]] = {
    "two_pass": TwoPassSoftmax,
    "pass_through": PassThroughSoftmax,
}
