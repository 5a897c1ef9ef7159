"""probxV: the probability x V multiplier array and its adder tree.

Hardware [P, docs/spatten.md §3]: 512 multipliers; each cycle one line of the value SRAM
(``multipliers / head_dim`` V rows) times the broadcast probabilities: 8 (probability, V row)
pairs a cycle at D = 64; depth multiplier (1) + tree (6) [RTL MultiplyValue.scala]. Its input
FIFO holds ``probxv.input_fifo_depth`` elements (RTL StageMultiplyValue: a 64-entry queue of
8-wide beats = 512).

Stream interface: consumes the top-k engine's kept (probability, index) pairs and the V rows
as they are written to the value buffer (the RTL joins the two streams, StreamJoin); a query
retires ``depth`` cycles after its last row. Actions: ``multiplies`` (m x D), ``adds``
((m - 1) x D), value SRAM ``line_reads``, and the head-importance ``adds`` (D: sum |E|).
"""

from __future__ import annotations

import numpy as np

from spatten_sim.config import HwConfig
from spatten_sim.hw.units.base import UNBOUNDED, Stage, ceil_div, total
from spatten_sim.hw.units.qxk import rows_per_cycle


class ProbxV:
    unit = "probxv"

    def __init__(self, cfg: HwConfig, head_dim: int) -> None:
        self.head_dim = head_dim
        self.rate = rows_per_cycle(cfg.probxv.multipliers, head_dim)
        self.depth = cfg.probxv.multiplier_latency_cycles + cfg.probxv.adder_tree_stages
        self.input_fifo = cfg.probxv.input_fifo_depth

    def stage(self) -> Stage:
        return Stage("probxv", self.unit, self.rate, self.depth, UNBOUNDED)

    def count(self, actions, m) -> None:
        """Actions of a job of ``m`` kept V rows (or of many: ``m`` an array, see ``total``)."""
        d = self.head_dim
        many = isinstance(m, np.ndarray)
        actions["probxv"]["multiplies"] += total(m * d)
        actions["probxv"]["adds"] += total((np.maximum(m - 1, 0) if many else max(0, m - 1)) * d)
        actions["value_sram"]["line_reads"] += total(ceil_div(m, self.rate))
        actions["importance_accumulators"]["adds"] += d * (m.size if many else 1)
