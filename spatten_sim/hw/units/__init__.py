"""SpAtten's hardware units, one module each, behind one interface (:mod:`.base`).

| module | unit | what it models |
|---|---|---|
| :mod:`.fetcher` | fetcher, bitwidth_converter | address generator, crossbars, DRAM batches, converter |
| :mod:`.buffers` | (buffer manager) | request window, key/value buffers, head slots |
| :mod:`.qxk` | qxk | query x key multiplier array + adder tree |
| :mod:`.softmax` | softmax | ``two_pass`` (paper) or ``pass_through`` (released RTL) |
| :mod:`.decision` | progressive_decision | max-probability threshold, LSB re-fetch trigger |
| :mod:`.topk_engine` | topk_local_v, topk_token_head | quick-select top-k engines |
| :mod:`.probxv` | probxv | probability x V multiplier array + adder tree |
| :mod:`.accumulators` | importance_accumulators | cascade token/head scores |

:func:`build_pipeline` wires them from a configuration: which implementation (``impl:`` in
``hw.yaml``), and the FIFO between each unit and the next. Both timing models (production and
reference) take their figures from the :class:`Pipeline` it returns. To try a new softmax, add
a class to :mod:`.softmax` with ``unit``, ``input_fifo``, ``stages(next_fifo)`` and ``count``,
register it in ``SOFTMAX_IMPLS`` and name it in ``softmax.impl`` (docs/units.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from spatten_sim.config import HwConfig
from spatten_sim.errors import ConfigError
from spatten_sim.hw.units.base import UNBOUNDED, SoftmaxUnit, Stage, TopkUnit
from spatten_sim.hw.units.buffers import Buffers
from spatten_sim.hw.units.decision import Decision
from spatten_sim.hw.units.probxv import ProbxV
from spatten_sim.hw.units.qxk import QxK, rows_per_cycle
from spatten_sim.hw.units.softmax import SOFTMAX_IMPLS
from spatten_sim.hw.units.topk_engine import TOPK_IMPLS

#: report units, in pipeline order
UNITS = (
    "fetcher",
    "bitwidth_converter",
    "qxk",
    "softmax",
    "softmax_div",
    "importance_accumulators",
    "progressive_decision",
    "topk_local_v",
    "probxv",
    "topk_token_head",
)

__all__ = [
    "UNBOUNDED",
    "UNITS",
    "Pipeline",
    "Stage",
    "build_pipeline",
    "check_units",
    "rows_per_cycle",
]


@dataclass(frozen=True)
class Pipeline:
    """The wired units of one configuration and head size."""

    qxk: QxK
    softmax: SoftmaxUnit  #: one of SOFTMAX_IMPLS
    decision: Decision
    topk: TopkUnit  #: one of TOPK_IMPLS
    probxv: ProbxV
    buffers: Buffers
    #: the front chain: QxK, the softmax stage(s), the decision (docs/timing-model.md §3)
    front: tuple[Stage, ...]
    #: elements between the top-k engine and probxV (the engine's register + probxV's FIFO)
    topk_cap: int


def check_units(cfg: HwConfig) -> None:
    """Refuse unknown implementations and zero-depth stages, naming the key."""
    if cfg.softmax.impl not in SOFTMAX_IMPLS:
        raise ConfigError(
            f"softmax.impl: unknown implementation {cfg.softmax.impl!r} "
            f"(known: {', '.join(SOFTMAX_IMPLS)})"
        )
    if cfg.topk.impl not in TOPK_IMPLS:
        raise ConfigError(
            f"topk.impl: unknown implementation {cfg.topk.impl!r} (known: {', '.join(TOPK_IMPLS)})"
        )
    for unit in ("qxk", "probxv"):
        a = getattr(cfg, unit)
        if a.multiplier_latency_cycles + a.adder_tree_stages < 1:
            raise ConfigError(
                f"{unit}.multiplier_latency_cycles: multiplier latency + adder_tree_stages "
                "must be >= 1 (every stage has a register)"
            )
    s = cfg.softmax
    if s.impl == "two_pass":
        if s.dequant_latency_cycles + s.exp_latency_cycles < 1:
            raise ConfigError("softmax.exp_latency_cycles: dequant + exp latency must be >= 1")
        if s.div_latency_cycles + s.quant_latency_cycles < 1:
            raise ConfigError("softmax.div_latency_cycles: div + quant latency must be >= 1")
    if s.passthrough_latency_cycles < 1:
        raise ConfigError("softmax.passthrough_latency_cycles: must be >= 1")
    if cfg.decision.latency_cycles < 1:
        raise ConfigError("decision.latency_cycles: must be >= 1")


def build_pipeline(cfg: HwConfig, head_dim: int) -> Pipeline:
    check_units(cfg)
    qxk = QxK(cfg, head_dim)
    sm = SOFTMAX_IMPLS[cfg.softmax.impl](cfg)
    dec = Decision(cfg)
    topk = TOPK_IMPLS[cfg.topk.impl](cfg)
    pv = ProbxV(cfg, head_dim)
    front = (*qxk.stages(sm.input_fifo), *sm.stages(dec.input_fifo), *dec.stages(UNBOUNDED))
    return Pipeline(
        qxk=qxk,
        softmax=sm,
        decision=dec,
        topk=topk,
        probxv=pv,
        buffers=Buffers(cfg),
        front=front,
        topk_cap=topk.rate * topk.depth + pv.input_fifo,
    )
