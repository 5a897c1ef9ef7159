"""The memory interface between the accelerator core and a DRAM model.

The core's fetcher submits *batches* of fixed-size transactions (32 B for HBM2) and gets back the
cycle at which each completes; the DRAM model keeps its state (open rows, bank timers, queues,
counters) between batches. SimPy sees one event per batch, never one per burst.

Contract of :meth:`MemoryModel.access`:

* ``addresses``: int64 byte addresses, each aligned to ``transaction_bytes``;
* ``arrival_cycles``: int64 accelerator cycles at which each transaction reaches the memory
  system (before the crossbar), non-decreasing within a batch and never earlier than the
  arrival of the first transaction of the previous batch (batches are submitted in simulated-time
  order by the SimPy model);
* returns int64 completion cycles (accelerator clock), one per transaction, each >= its arrival.

All cycles here are accelerator cycles; a model whose memory clock differs converts internally
(``clock_ratio`` = memory clock / accelerator clock).

Implementations: :class:`IdealMemory` here (fixed latency and per-channel bandwidth: the
analytical bound), and the bank-level JEDEC HBM2 model in :mod:`spatten_sim.hw.dram`.
:func:`make_memory` builds one from the ``memory`` section of a hardware configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from spatten_sim.errors import ConfigError


class MemoryModel(Protocol):
    """What the core needs from a DRAM model."""

    name: str  #: short name reported as ``memory_model`` (e.g. "hbm2", "ideal")
    description: str  #: one line: organisation, timing, scheduling, mapping
    transaction_bytes: int
    n_channels: int
    peak_bandwidth_gbps: float  #: at the accelerator clock given to the constructor

    def access(
        self,
        addresses: np.ndarray,
        arrival_cycles: np.ndarray,
        is_write: np.ndarray | None = None,
    ) -> np.ndarray: ...

    def stats(self) -> dict[str, Any]:
        """Counters so far. Keys at least: reads, writes, bytes_read, bytes_written,
        activations, precharges, refreshes, row_hits, row_misses, row_conflicts,
        channel_busy_cycles (list), avg_latency_cycles, p50_latency_cycles, p99_latency_cycles."""
        ...


@dataclass(frozen=True)
class IdealMemoryConfig:
    """Fixed latency plus per-channel bandwidth, interleaved at transaction granularity."""

    channels: int = 16
    channel_bandwidth_gbps: float = 32.0  #: GB/s per channel (HBM2 2 Gbps x 128 bit)
    latency_ns: float = 17.0  #: unloaded latency (HBM2 row hit: nCL + burst = 16-17 ns)
    transaction_bytes: int = 32


class IdealMemory:
    """The analytical bound: every channel serves one transaction every
    ``transaction_bytes / channel_bandwidth`` ns after a fixed ``latency_ns``; no banks, no rows,
    no refresh. Channel = (address / transaction_bytes) mod channels (32-B interleave, as the
    SpAtten fetcher lays out Q/K/V [REFERENCE.md §3])."""

    name = "ideal"

    def __init__(self, cfg: IdealMemoryConfig, clock_ghz: float = 1.0) -> None:
        self.cfg = cfg
        self.transaction_bytes = cfg.transaction_bytes
        self.n_channels = cfg.channels
        self.peak_bandwidth_gbps = cfg.channels * cfg.channel_bandwidth_gbps
        # accelerator cycles per transaction per channel, and fixed latency in cycles
        self._service = cfg.transaction_bytes / cfg.channel_bandwidth_gbps * clock_ghz
        self._latency = cfg.latency_ns * clock_ghz
        self._free_at = np.zeros(cfg.channels, dtype=np.float64)
        self._reads = 0
        self._writes = 0
        self._busy = np.zeros(cfg.channels, dtype=np.float64)
        self._lat_sum = 0.0
        self._lat_hist: list[np.ndarray] = []
        self.description = (
            f"ideal: {cfg.channels} channels x {cfg.channel_bandwidth_gbps:g} GB/s, fixed "
            f"{cfg.latency_ns:g} ns latency, no banks/rows/refresh (analytical bound)"
        )

    def access(self, addresses, arrival_cycles, is_write=None):
        addresses = np.asarray(addresses, dtype=np.int64)
        arrival = np.asarray(arrival_cycles, dtype=np.int64)
        if addresses.shape != arrival.shape:
            raise ValueError("addresses and arrival_cycles must have the same shape")
        ch = (addresses // self.transaction_bytes) % self.n_channels
        done = np.empty(addresses.shape[0], dtype=np.int64)
        free = self._free_at
        svc = self._service
        for i in range(addresses.shape[0]):  # small batches; numba not needed for the bound
            c = ch[i]
            start = max(free[c], float(arrival[i]))
            free[c] = start + svc
            done[i] = int(np.ceil(start + svc + self._latency))
        self._busy += np.bincount(ch, minlength=self.n_channels) * svc
        nw = 0 if is_write is None else int(np.count_nonzero(is_write))
        self._writes += nw
        self._reads += addresses.shape[0] - nw
        lat = done - arrival
        self._lat_sum += float(lat.sum())
        self._lat_hist.append(lat)
        return done

    def stats(self) -> dict[str, Any]:
        n = self._reads + self._writes
        lat = np.concatenate(self._lat_hist) if self._lat_hist else np.zeros(0, dtype=np.int64)
        return {
            "reads": self._reads,
            "writes": self._writes,
            "bytes_read": self._reads * self.transaction_bytes,
            "bytes_written": self._writes * self.transaction_bytes,
            "activations": 0,
            "precharges": 0,
            "refreshes": 0,
            "row_hits": 0,
            "row_misses": 0,
            "row_conflicts": 0,
            "channel_busy_cycles": [round(float(b)) for b in self._busy],
            "avg_latency_cycles": self._lat_sum / n if n else 0.0,
            "p50_latency_cycles": float(np.percentile(lat, 50)) if n else 0.0,
            "p99_latency_cycles": float(np.percentile(lat, 99)) if n else 0.0,
        }


def make_memory(section: dict[str, Any], clock_ghz: float = 1.0) -> MemoryModel:
    """Build the memory model named by ``section['preset']`` with the other keys as overrides.

    Raises :class:`ConfigError` naming ``memory.<key>`` for unknown keys or bad values.
    """
    section = dict(section)
    preset = section.pop("preset", "ideal")
    if preset == "ideal":
        known = set(IdealMemoryConfig.__dataclass_fields__)
        for key in section:
            if key not in known:
                raise ConfigError(
                    f"memory.{key}: unknown key for the 'ideal' memory model "
                    f"(known: {', '.join(sorted(known))})"
                )
        cfg = IdealMemoryConfig(**section)
        if cfg.channels < 1 or cfg.channel_bandwidth_gbps <= 0 or cfg.latency_ns < 0:
            raise ConfigError(
                "memory: channels >= 1, channel_bandwidth_gbps > 0 and latency_ns >= 0 required"
            )
        return IdealMemory(cfg, clock_ghz)
    raise ConfigError(f"memory.preset: unknown memory model {preset!r} (known: ideal)")
