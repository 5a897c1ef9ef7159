"""What the timing phase returns (both the production model and the cycle-stepped reference)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerRecord:
    """Timing of one layer job (one row of the per-layer CSV)."""

    stage: str
    iteration: int
    layer: int
    tokens_total: int
    tokens_kept: int
    heads_kept: int
    queries: int
    requant_queries: int
    start_cycle: int
    end_cycle: int
    dram_bytes: int


@dataclass(frozen=True)
class TimingResult:
    """What the timing phase measured: cycles, per-unit busy/stall, action counts, DRAM."""

    cycles: int
    busy_cycles: dict[str, int]
    stall_cycles: dict[str, int]
    actions: dict[str, dict[str, float]]
    params: dict[str, dict[str, float]]
    bytes_by_stream: dict[str, int]
    transactions: int
    layers: tuple[LayerRecord, ...]
    heads_split: int
    memory_stats: dict[str, Any]
    #: (unit, "busy" | "stall", start_cycle, end_cycle) intervals, when recorded
    timeline: tuple[tuple[str, str, int, int], ...] | None = None
    #: discrete events the model scheduled (a cost figure of the simulator, not of the machine)
    events: int = 0

    def comparable(self) -> dict[str, Any]:
        """Everything two timing models must agree on exactly (docs/timing-model.md)."""
        return {
            "cycles": self.cycles,
            "busy_cycles": dict(self.busy_cycles),
            "stall_cycles": dict(self.stall_cycles),
            "actions": {u: dict(a) for u, a in self.actions.items()},
            "bytes_by_stream": dict(self.bytes_by_stream),
            "transactions": self.transactions,
            "layers": [tuple(vars(r).values()) for r in self.layers],
            "heads_split": self.heads_split,
            "memory_stats": dict(self.memory_stats),
        }


def layer_record(lj, start_cycle: int, end_cycle: int, dram_bytes: int) -> LayerRecord:
    """The per-layer row of a :class:`~spatten_sim.workload.LayerJob` timed by a model."""
    return LayerRecord(
        stage=lj.stage,
        iteration=lj.iteration,
        layer=lj.layer,
        tokens_total=lj.tokens_total,
        tokens_kept=lj.tokens_kept,
        heads_kept=lj.heads_kept,
        queries=sum(h.n_queries for h in lj.heads),
        requant_queries=int(sum(int(h.requant.sum()) for h in lj.heads)),
        start_cycle=int(start_cycle),
        end_cycle=int(end_cycle),
        dram_bytes=int(dram_bytes),
    )


def dram_actions(stats: dict[str, Any]) -> dict[str, float]:
    """The DRAM model's counters the energy table charges (its ``dram`` actions)."""
    keys = ("activations", "bytes_read", "bytes_written", "refreshes")
    return {k: float(stats.get(k, 0)) for k in keys}
