"""Effective command-to-command timing constraints of an HBM2 channel.

From the JEDEC parameters of a :class:`~.config.DramConfig` this builds the table the controller
kernel checks: for each pair (preceding command, following command) and scope (bank, bank group,
rank, pseudo-channel, channel), the minimum distance in memory cycles. The rules are the JESD235
array-access timings as Ramulator 2.1's HBM2 spec encodes them (docs/hbm2-facts.md §2):

* an ACT occupies the row bus for ``act_bus_cycles`` (2) cycles; with ``act_timing_adjust`` the
  constraints that start at an ACT get +1 and those that end at an ACT get -1 (the ACT "happens"
  on its second cycle), which gives the effective values listed in docs/hbm2-facts.md §2
  (ACT->RD 15, ACT->PRE 35, PRE->ACT 13, REFab->ACT 349, ACT->REFab 49, RDA->ACT 18 ...);
* the data bus of a pseudo-channel carries one burst every ``nBL`` cycles; column commands to the
  same bank group are ``nCCDL`` apart, to different groups ``nCCDS``;
* read/write turnarounds: RD->WR = nCL + nBL + 2 - nCWL, WR->RD = nCWL + nBL + nWTR(S/L),
  WR->PRE = nCWL + nBL + nWR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spatten_sim.hw.dram.config import DramConfig

# Indices into the effective-timing vector handed to the kernel (all in memory cycles).
ACT_RD = 0  #: same bank
ACT_WR = 1  #: same bank
ACT_PRE = 2  #: same bank, and ACT -> PREab at the pseudo-channel
PRE_ACT = 3  #: same bank, and PREab -> ACT at the pseudo-channel
ACT_ACT_BANK = 4  #: nRC
ACT_ACT_BG = 5  #: nRRDL
ACT_ACT_RANK = 6  #: nRRDS
FAW = 7  #: four-activate window per rank
RD_PRE = 8  #: nRTP, same bank and to PREab
WR_PRE = 9  #: nCWL + nBL + nWR
RDA_ACT = 10  #: RD with auto-precharge -> ACT, same bank
WRA_ACT = 11
RD_RD_BG = 12  #: nCCDL
RD_RD_RANK = 13  #: nCCDS
BURST = 14  #: data-bus occupancy per pseudo-channel, nBL
RD_WR = 15  #: nCL + nBL + 2 - nCWL (pseudo-channel)
WR_RD_BG = 16  #: nCWL + nBL + nWTRL
WR_RD_RANK = 17  #: nCWL + nBL + nWTRS
REF_ACT = 18  #: nRFC (-1 with the ACT adjustment)
ACT_REF = 19  #: nRC (+1)
PRE_REF = 20  #: nRP
ACT_BUS = 21  #: row-bus cycles of an ACT
READ_LATENCY = 22  #: RD -> data done, nCL + nBL
WRITE_LATENCY = 23  #: WR -> data written, nCWL + nBL
RDA_REF = 24  #: nRTP + nRP
WRA_REF = 25  #: nCWL + nBL + nWR + nRP
N_TIMING = 26

NAMES = {
    ACT_RD: "ACT->RD (bank)",
    ACT_WR: "ACT->WR (bank)",
    ACT_PRE: "ACT->PRE (bank) / ACT->PREab (PC)",
    PRE_ACT: "PRE->ACT (bank) / PREab->ACT (PC)",
    ACT_ACT_BANK: "ACT->ACT (bank)",
    ACT_ACT_BG: "ACT->ACT (bank group)",
    ACT_ACT_RANK: "ACT->ACT (rank)",
    FAW: "four-activate window (rank)",
    RD_PRE: "RD->PRE (bank) / RD->PREab",
    WR_PRE: "WR->PRE (bank) / WR->PREab",
    RDA_ACT: "RDA->ACT (bank)",
    WRA_ACT: "WRA->ACT (bank)",
    RD_RD_BG: "RD->RD (bank group)",
    RD_RD_RANK: "RD->RD (rank)",
    BURST: "RD->RD / WR->WR data bus (PC)",
    RD_WR: "RD->WR (PC)",
    WR_RD_BG: "WR->RD (bank group)",
    WR_RD_RANK: "WR->RD (rank)",
    REF_ACT: "REFab->ACT (PC)",
    ACT_REF: "ACT->REFab (PC)",
    PRE_REF: "PRE/PREab->REFab (PC)",
    ACT_BUS: "ACT->any row command (channel)",
    READ_LATENCY: "RD -> data done",
    WRITE_LATENCY: "WR -> data written",
    RDA_REF: "RDA->REFab (PC)",
    WRA_REF: "WRA->REFab (PC)",
}


def effective_timing(cfg: DramConfig) -> np.ndarray:
    """The effective constraint vector (int64, memory cycles), indexed by the constants above."""
    a = (cfg.act_bus_cycles - 1) if cfg.act_timing_adjust else 0  # from ACT: +a, to ACT: -a
    wr_end = cfg.nCWL + cfg.nBL + cfg.nWR
    t = np.zeros(N_TIMING, dtype=np.int64)
    t[ACT_RD] = cfg.nRCDRD + a
    t[ACT_WR] = cfg.nRCDWR + a
    t[ACT_PRE] = cfg.nRAS + a
    t[PRE_ACT] = cfg.nRP - a
    t[ACT_ACT_BANK] = cfg.nRC
    t[ACT_ACT_BG] = cfg.nRRDL
    t[ACT_ACT_RANK] = cfg.nRRDS
    t[FAW] = cfg.nFAW
    t[RD_PRE] = cfg.nRTP
    t[WR_PRE] = wr_end
    t[RDA_ACT] = cfg.nRTP + cfg.nRP - a
    t[WRA_ACT] = wr_end + cfg.nRP - a
    t[RD_RD_BG] = cfg.nCCDL
    t[RD_RD_RANK] = cfg.nCCDS
    t[BURST] = cfg.nBL
    t[RD_WR] = cfg.nCL + cfg.nBL + 2 - cfg.nCWL
    t[WR_RD_BG] = cfg.nCWL + cfg.nBL + cfg.nWTRL
    t[WR_RD_RANK] = cfg.nCWL + cfg.nBL + cfg.nWTRS
    t[REF_ACT] = cfg.nRFC - a
    t[ACT_REF] = cfg.nRC + a
    t[PRE_REF] = cfg.nRP
    t[ACT_BUS] = cfg.act_bus_cycles
    t[READ_LATENCY] = cfg.nCL + cfg.nBL
    t[WRITE_LATENCY] = cfg.nCWL + cfg.nBL
    t[RDA_REF] = cfg.nRTP + cfg.nRP
    t[WRA_REF] = wr_end + cfg.nRP
    return np.maximum(t, 1)


def describe_timing(cfg: DramConfig) -> dict[str, int]:
    """Effective constraints by name (for docs and ``dram-bench --json``)."""
    t = effective_timing(cfg)
    return {NAMES[i]: int(t[i]) for i in range(N_TIMING)}
