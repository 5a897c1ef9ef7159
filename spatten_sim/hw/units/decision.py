"""The progressive-quantization decision unit.

Hardware [P; RTL RequantDecision.scala]: a running max over the softmax output stream at the
softmax's rate, compared with the threshold when the query's last probability has passed; the
probabilities flow on (into the requantization FIFO) while the max is kept. Its report (miss or
not) leaves ``latency_cycles`` after the last probability; on a miss the query is re-arbitrated
with its LSBs (docs/timing-model.md §5).

Stream interface: consumes probabilities through an input FIFO of ``decision.fifo_depth``
entries at ``softmax.parallelism`` a cycle; produces them into the requantization FIFO
(unbounded here, docs/timing-model.md §4). Actions: ``comparisons`` (one per probability).
"""

from __future__ import annotations

from spatten_sim.config import HwConfig
from spatten_sim.hw.units.base import UNBOUNDED, Stage, total


class Decision:
    unit = "progressive_decision"

    def __init__(self, cfg: HwConfig) -> None:
        self.input_fifo = cfg.decision.fifo_depth
        self.rate = cfg.softmax.parallelism
        self.depth = cfg.decision.latency_cycles

    def stages(self, next_fifo: int = UNBOUNDED) -> tuple[Stage, ...]:
        return (Stage("decision", self.unit, self.rate, self.depth, next_fifo),)

    def count(self, actions, n) -> None:
        actions["progressive_decision"]["comparisons"] += total(n)
