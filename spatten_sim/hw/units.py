"""Service times of SpAtten's datapath units, from their microarchitecture.

Every unit is described per job by two figures:

* ``occupancy`` -- cycles the unit is busy and cannot take the next job
  (beats x initiation interval);
* ``latency`` -- cycles from taking the job to its result leaving the unit
  (occupancy + pipeline depth).

Numbers come from REFERENCE.md §3 and the official code's ``bert.cpp`` ([C]); all figures are in
accelerator cycles. These are pure functions so they can be checked in closed form (tests/hw).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from spatten_sim.config import HwConfig


@dataclass(frozen=True)
class Service:
    occupancy: int  #: cycles busy
    latency: int  #: cycles until the result is out (>= occupancy)


def rows_per_cycle(multipliers: int, head_dim: int) -> int:
    """Keys (QxK) or V rows (probxV) served per cycle: one SRAM line of ``multipliers`` words
    times the broadcast query/probability, i.e. ``multipliers / head_dim`` rows (8 at D=64)."""
    return max(1, multipliers // head_dim)


def qxk(cfg: HwConfig, n_keys: int, head_dim: int) -> Service:
    """QxK of one query against ``n_keys`` keys: multiplier array + adder tree."""
    occ = ceil(n_keys / rows_per_cycle(cfg.qxk.multipliers, head_dim))
    depth = cfg.qxk.multiplier_latency_cycles + cfg.qxk.adder_tree_stages
    return Service(occ, occ + depth)


def softmax(cfg: HwConfig, n: int) -> Service:
    """Softmax of ``n`` scores at ``parallelism`` elements per cycle.

    Pass 1 (dequantize, exp, accumulate) and pass 2 (divide, requantize) each stream the scores
    once; they are separate pipeline stages, so a query's pass 2 overlaps the next query's pass 1:
    occupancy = ceil(n / P), latency = 2 ceil(n / P) + the stage latencies [C bert.cpp].
    """
    s = cfg.softmax
    beats = ceil(n / s.parallelism)
    depth = (
        s.dequant_latency_cycles
        + s.exp_latency_cycles
        + s.accum_latency_cycles
        + s.div_latency_cycles
        + s.quant_latency_cycles
    )
    return Service(beats, 2 * beats + depth)


def decision() -> Service:
    """Progressive-quantization decision: the running max is kept while softmax streams; the
    compare with the threshold takes one cycle at the end of the query."""
    return Service(1, 1)


def topk(cycles: int) -> Service:
    """A top-k engine call whose cycles the functional phase counted (quick-select rounds)."""
    return Service(int(cycles), int(cycles))


def probxv(cfg: HwConfig, n_rows: int, head_dim: int) -> Service:
    """prob x V over the ``n_rows`` kept V rows: multiplier array + adder tree."""
    occ = ceil(n_rows / rows_per_cycle(cfg.probxv.multipliers, head_dim))
    depth = cfg.probxv.multiplier_latency_cycles + cfg.probxv.adder_tree_stages
    return Service(occ, occ + depth)


def converter(cfg: HwConfig, n_bytes: int) -> Service:
    """Bitwidth converter over ``n_bytes`` of DRAM words (muxes + shifter)."""
    occ = ceil(n_bytes / cfg.bitwidth_converter.bytes_per_cycle)
    return Service(occ, occ + cfg.bitwidth_converter.latency_cycles)


def address_issue_cycles(cfg: HwConfig, n_transactions: int) -> int:
    """Cycles the fetcher's address generator needs to issue ``n_transactions`` requests."""
    return ceil(n_transactions / cfg.fetcher.address_issue_per_cycle)
