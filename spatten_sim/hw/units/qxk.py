"""QxK: the query-key multiplier array and its reconfigurable adder tree.

Hardware [P, docs/spatten.md §3]: 512 12-bit multipliers; each cycle one line of the key SRAM
(``multipliers`` words = ``multipliers / head_dim`` keys) is multiplied by the broadcast query
and reduced by the adder tree: 8 scores a cycle at D = 64. Depth: the multiplier's latency (1)
plus the tree's stages (6) [RTL DotProduct.scala, utils/ReductionTree.scala].

Stream interface: consumes key rows from the key buffer as they are written (a line is
readable once its tag matches, RTL Buffer.scala), produces one score per key at
``multipliers // head_dim`` a cycle, first score ``depth`` cycles after the first key.
Actions: ``multiplies`` (n x D), ``adds`` (n x (D - 1)), key SRAM ``line_reads`` (one a cycle).
"""

from __future__ import annotations

from spatten_sim.config import HwConfig
from spatten_sim.hw.units.base import Stage, ceil_div, total


def rows_per_cycle(multipliers: int, head_dim: int) -> int:
    """Keys (QxK) or V rows (probxV) served per cycle: one SRAM line of ``multipliers`` words
    times the broadcast query/probability, i.e. ``multipliers / head_dim`` rows (8 at D=64)."""
    return max(1, multipliers // head_dim)


class QxK:
    """The QxK array (one implementation; ``qxk`` section of hw.yaml)."""

    unit = "qxk"

    def __init__(self, cfg: HwConfig, head_dim: int) -> None:
        self.head_dim = head_dim
        self.rate = rows_per_cycle(cfg.qxk.multipliers, head_dim)
        self.depth = cfg.qxk.multiplier_latency_cycles + cfg.qxk.adder_tree_stages

    def stages(self, next_fifo: int) -> tuple[Stage, ...]:
        return (Stage("qxk", self.unit, self.rate, self.depth, next_fifo),)

    def count(self, actions, n) -> None:
        """Actions of a job of ``n`` elements (or of many: ``n`` an array, see ``total``)."""
        d = self.head_dim
        actions["qxk"]["multiplies"] += total(n * d)
        actions["qxk"]["adds"] += total(n * (d - 1))
        actions["key_sram"]["line_reads"] += total(ceil_div(n, self.rate))
