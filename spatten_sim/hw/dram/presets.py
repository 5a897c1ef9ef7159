"""Named DRAM presets and their sources.

* ``hbm2`` (default): JEDEC HBM2 at 2 Gb/s/pin in pseudo-channel mode, as Ramulator 2.1 models
  it (``HBM2_8Gb`` + ``HBM2_2000Mbps``, HBM controller, FR-FCFS, all-bank refresh, open rows,
  ``RoBaRaCoCh`` with cache-line channel interleave): 16 channels x 2 pseudo-channels x 16 banks,
  32-B bursts, 512 GB/s. Every number: docs/hbm2-facts.md §1-§4.
* ``hbm2-spatten-rtl``: what SpAtten's released RTL flow measures through Ramulator 2.0a
  (``HBM2_8Gb`` + ``HBM2_2Gbps``): CL = RCD = RP = 7, nBL = 4 applied per pseudo-channel (so a
  channel moves 32 B every 2 cycles: 16 GB/s, half of JEDEC), 2^15 rows, at most 16 outstanding
  requests per channel (docs/spatten.md §3, docs/hbm2-facts.md §6). nWR, nCWL, nWTR(S/L) are the
  values of Ramulator 2.0a's ``HBM2_2Gbps`` preset (8, 2, 3/4) and nRTP its nRTPS (2), which
  2.0a applies to RD->PRE; its nRFC lookup is undefined for the preset's density, we use the
  8 Gb value 350. The 2-cycle ACT occupies the row bus but shifts no constraint (2.0a), and the
  first command may issue in the cycle a request is accepted (2.0a's latencies: nCL + nBL).
* ``hbm2-legacy``: DRAMsim3's ``HBM2_8Gb_x128.ini``: legacy mode, 8 x 128-bit channels, 4 dies
  as ranks sharing the bus, BL4 = 64-B bursts, ``rorabgbachco`` mapping (docs/hbm2-facts.md §5).
  Only the device is DRAMsim3's; the controller is ours (FR-FCFS as above), see
  docs/dram-validation.md.
* ``ideal``: fixed latency and per-channel bandwidth (:class:`spatten_sim.hw.memory.IdealMemory`).
"""

from __future__ import annotations

from spatten_sim.hw.dram.config import DramConfig

HBM2 = DramConfig(
    name="hbm2",
    description=(
        "JEDEC HBM2 2 Gbps pseudo-channel mode (Ramulator 2.1-like): "
        "32-B bursts, CL=RCD=RP=14, nBL=2, FR-FCFS, open rows, all-bank refresh"
    ),
)

HBM2_SPATTEN_RTL = DramConfig(
    name="hbm2-spatten-rtl",
    description=(
        "SpAtten RTL flow through Ramulator 2.0a: CL=RCD=RP=7, nBL=4 per PC "
        "(16 GB/s a channel), at most 16 outstanding per channel, FR-FCFS"
    ),
    rows=32768,
    columns=32,
    nBL=4,
    nCL=7,
    nRCDRD=7,
    nRCDWR=7,
    nRP=7,
    nRAS=17,
    nRC=19,
    nWR=8,
    nRTP=2,
    nCWL=2,
    nCCDS=1,
    nCCDL=2,
    nRRDS=2,
    nRRDL=3,
    nWTRS=3,
    nWTRL=4,
    nFAW=15,
    nRFC=350,
    nREFI=3900,
    act_bus_cycles=2,
    act_timing_adjust=False,
    max_outstanding_per_channel=16,
    command_delay_cycles=0,
)

HBM2_LEGACY = DramConfig(
    name="hbm2-legacy",
    description=(
        "HBM2 legacy mode (DRAMsim3 HBM2_8Gb_x128): 128-bit channels, 4 dies as ranks, "
        "64-B bursts, CL=RCD=RP=14, FR-FCFS, open rows"
    ),
    channels=8,
    pseudo_channels=1,
    ranks=4,
    bank_groups=4,
    banks_per_group=4,
    rows=32768,
    columns=32,
    burst_bytes=64,
    request_bytes=64,
    nBL=2,
    nCL=14,
    nRCDRD=14,
    nRCDWR=14,
    nRP=14,
    nRAS=34,
    nRC=48,
    nWR=16,
    nRTP=6,
    nCWL=4,
    nCCDS=1,
    nCCDL=2,
    nRRDS=4,
    nRRDL=6,
    nWTRS=6,
    nWTRL=8,
    nFAW=30,
    nRFC=260,
    nREFI=3900,
    act_bus_cycles=1,
    act_timing_adjust=False,
    read_buffer=32,
    write_buffer=32,
    mapping="RoRkBgBkChCo",
)

DRAM_PRESETS: dict[str, DramConfig] = {p.name: p for p in (HBM2, HBM2_SPATTEN_RTL, HBM2_LEGACY)}

#: all names accepted by ``memory.preset`` (``ideal`` is built by spatten_sim.hw.memory)
PRESET_NAMES = (*DRAM_PRESETS, "ideal")
