"""Bank-level, JEDEC-timed HBM2 model (issue 4; docs/dram.md).

Public API::

    from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, config_with_overrides
    cfg = config_with_overrides(DRAM_PRESETS["hbm2"], {"channels": 8})
    mem = DramMemory(cfg, clock_ghz=1.0)
    done = mem.access(addresses, arrival_cycles)
    mem.stats()

Modules: :mod:`.config` (the configuration dataclass), :mod:`.presets` (named presets and their
sources), :mod:`.timing` (effective JEDEC constraints), :mod:`.mapping` (address mappers),
:mod:`.controller` (the Numba controller kernel), :mod:`.model` (the memory model),
:mod:`.bench` (standalone benchmark), :mod:`.checker` (command-stream legality checker).
"""

from spatten_sim.hw.dram.config import DramConfig, config_with_overrides
from spatten_sim.hw.dram.model import DramMemory, FrontendLimits
from spatten_sim.hw.dram.presets import DRAM_PRESETS

__all__ = ["DRAM_PRESETS", "DramConfig", "DramMemory", "FrontendLimits", "config_with_overrides"]
