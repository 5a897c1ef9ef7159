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
analytical bound), and the bank-level JEDEC HBM2 model :class:`spatten_sim.hw.dram.DramMemory`
(presets ``hbm2`` -- the default --, ``hbm2-spatten-rtl``, ``hbm2-legacy``; docs/dram.md).
:func:`make_memory` builds one from the ``memory`` section of a hardware configuration, and
:func:`with_crossbar` puts SpAtten's fetcher crossbar in front of it::

    mem = with_crossbar(make_memory(cfg.memory, cfg.clock_ghz))   # hbm2 unless preset says
    done = mem.access(addresses, arrival_cycles)                    # int64 completion cycles
    mem.stats()["row_hits"], mem.description

Cross-batch scheduling (HBM2 model): a batch is simulated until its last request has issued, so
returned cycles are final; inside a channel a later batch never overtakes an earlier one (the
earlier batch keeps priority), and it sees the banks, timers and refresh schedule as the earlier
batch left them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import numpy as np
from numba import njit

from spatten_sim.errors import ConfigError
from spatten_sim.hw import numba_start

numba_start.install()  # Numba's first call without SciPy's BLAS import


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


@dataclass(frozen=True)
class CrossbarLimits:
    """SpAtten's Q-K-V fetcher crossbar in front of the memory controllers (docs/spatten.md §3):
    addresses leave the fetcher in order, at most ``requests_per_channel_per_cycle`` per
    channel per cycle cross the 32x16 address crossbar, into an address FIFO of ``fifo_depth``
    entries per channel (64 x 8 B in the paper) that the channel's controller drains when its
    request buffer has room; a full FIFO stalls the fetcher (head-of-line)."""

    requests_per_channel_per_cycle: int = 1
    fifo_depth: int = 64

    def __post_init__(self) -> None:
        if self.requests_per_channel_per_cycle < 1:
            raise ConfigError("crossbar: requests_per_channel_per_cycle must be >= 1")
        if self.fifo_depth < 1:
            raise ConfigError("crossbar: fifo_depth must be >= 1")


class IdealMemory:
    """The analytical bound: every channel serves one transaction every
    ``transaction_bytes / channel_bandwidth`` ns after a fixed ``latency_ns``; no banks, no rows,
    no refresh. Channel = (address / transaction_bytes) mod channels (32-B interleave, as the
    SpAtten fetcher lays out Q/K/V [docs/spatten.md §3])."""

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
        self._lat_max = 0
        self._lat_hist = np.zeros(_LAT_BINS, dtype=np.int64)  # 1-cycle bins, last = overflow
        # crossbar history: entry cycles (ring of requests_per_channel_per_cycle) and service
        # starts (ring of fifo_depth) per channel, and the fetcher's last entry cycle
        self._xbar_shape = (0, 0)
        self._xbar_entries = np.zeros((cfg.channels, 1), dtype=np.float64)
        self._xbar_starts = np.zeros((cfg.channels, 1), dtype=np.float64)
        self._xbar_counts = np.zeros(cfg.channels, dtype=np.int64)
        self._xbar_clock = np.zeros(1, dtype=np.float64)
        self.description = (
            f"ideal: {cfg.channels} channels x {cfg.channel_bandwidth_gbps:g} GB/s, fixed "
            f"{cfg.latency_ns:g} ns latency, no banks/rows/refresh (analytical bound)"
        )

    supports_crossbar = True

    def access(self, addresses, arrival_cycles, is_write=None, *, crossbar=None):
        """See :class:`MemoryModel`; ``crossbar`` (:class:`CrossbarLimits`) applies the fetcher
        crossbar: in-order entry, per-channel rate, and a FIFO a request leaves when its
        channel starts serving it."""
        addresses = np.asarray(addresses, dtype=np.int64)
        arrival = np.asarray(arrival_cycles, dtype=np.int64)
        if addresses.shape != arrival.shape:
            raise ValueError("addresses and arrival_cycles must have the same shape")
        ch = (addresses // self.transaction_bytes) % self.n_channels
        done = np.empty(addresses.shape[0], dtype=np.int64)
        if crossbar is None:
            per, depth = 0, 0
        else:
            per, depth = crossbar.requests_per_channel_per_cycle, crossbar.fifo_depth
            if self._xbar_shape != (per, depth):  # first use (limits are fixed per wrapper)
                self._xbar_shape = (per, depth)
                self._xbar_entries = np.full((self.n_channels, per), -1e18)
                self._xbar_starts = np.full((self.n_channels, depth), -1e18)
        _ideal_kernel(
            ch, arrival, self._free_at, self._service, self._latency, per, depth,
            self._xbar_entries, self._xbar_starts, self._xbar_counts, self._xbar_clock, done,
        )  # fmt: skip
        svc = self._service
        self._busy += np.bincount(ch, minlength=self.n_channels) * svc
        nw = 0 if is_write is None else int(np.count_nonzero(is_write))
        self._writes += nw
        self._reads += addresses.shape[0] - nw
        lat = done - arrival
        if lat.size:
            self._lat_sum += float(lat.sum())
            self._lat_max = max(self._lat_max, int(lat.max()))
            self._lat_hist += np.bincount(np.minimum(lat, _LAT_BINS - 1), minlength=_LAT_BINS)
        return done

    def stats(self) -> dict[str, Any]:
        n = self._reads + self._writes
        return {
            "memory_model": self.name,
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
            "p50_latency_cycles": _hist_percentile(self._lat_hist, 50.0),
            "p99_latency_cycles": _hist_percentile(self._lat_hist, 99.0),
            "max_latency_cycles": float(self._lat_max),
        }


_LAT_BINS = 16384


def _hist_percentile(hist: np.ndarray, q: float) -> float:
    """Smallest latency with at least q% of the transactions at or below it (nearest rank)."""
    total = int(hist.sum())
    if total == 0:
        return 0.0
    rank = max(1, int(np.ceil(q / 100.0 * total)))
    return float(np.searchsorted(np.cumsum(hist), rank))


@njit(cache=True)
def _ideal_kernel(
    ch, arrival, free, svc, latency, per, depth, entries, starts, counts, clock, done
):
    """Per-channel FIFO service of :class:`IdealMemory`, with the crossbar when ``per`` > 0."""
    entry_prev = clock[0]
    for i in range(ch.shape[0]):
        c = ch[i]
        t_in = float(arrival[i])
        k = counts[c]
        if per > 0:
            t_in = max(t_in, entry_prev)  # the fetcher sends in order
            t_in = max(t_in, entries[c, k % per] + 1.0)  # per-channel crossbar rate
            t_in = max(t_in, starts[c, k % depth])  # FIFO full until one leaves
            t_in = np.ceil(t_in)
            entry_prev = t_in
        start = max(free[c], t_in)
        free[c] = start + svc
        done[i] = np.int64(np.ceil(start + svc + latency))
        if per > 0:
            entries[c, k % per] = t_in
            starts[c, k % depth] = start
            counts[c] = k + 1
    clock[0] = entry_prev


class _CrossbarModel(MemoryModel, Protocol):
    """A memory model that applies :class:`CrossbarLimits` itself (``supports_crossbar``)."""

    supports_crossbar: bool

    def access(
        self,
        addresses: np.ndarray,
        arrival_cycles: np.ndarray,
        is_write: np.ndarray | None = None,
        *,
        crossbar: CrossbarLimits | None = None,
    ) -> np.ndarray: ...


def _supports_crossbar(model: MemoryModel) -> TypeGuard[_CrossbarModel]:
    return bool(getattr(model, "supports_crossbar", False))


class CrossbarMemory:
    """A memory model behind SpAtten's fetcher crossbar (:class:`CrossbarLimits`).

    Same interface as the wrapped model; ``access`` forwards the crossbar limits to it (the HBM2
    model applies them inside its controller kernel, so FIFO back-pressure follows the
    controllers' real acceptance)."""

    def __init__(self, inner: MemoryModel, limits: CrossbarLimits) -> None:
        if not _supports_crossbar(inner):
            raise TypeError(f"{type(inner).__name__} does not support the crossbar limits")
        self.inner = inner
        self.limits = limits
        self.name = inner.name
        self.description = (
            f"{inner.description}; behind the fetcher crossbar "
            f"({limits.requests_per_channel_per_cycle} request/channel/cycle, "
            f"{limits.fifo_depth}-entry address FIFO per channel)"
        )
        self.transaction_bytes = inner.transaction_bytes
        self.n_channels = inner.n_channels
        self.peak_bandwidth_gbps = inner.peak_bandwidth_gbps

    def access(self, addresses, arrival_cycles, is_write=None):
        return self.inner.access(addresses, arrival_cycles, is_write, crossbar=self.limits)

    def stats(self) -> dict[str, Any]:
        st = dict(self.inner.stats())
        st["crossbar_requests_per_channel_per_cycle"] = self.limits.requests_per_channel_per_cycle
        st["crossbar_fifo_depth"] = self.limits.fifo_depth
        return st


def with_crossbar(
    model: MemoryModel, requests_per_channel_per_cycle: int = 1, fifo_depth: int = 64
) -> CrossbarMemory:
    """``model`` behind the SpAtten fetcher crossbar (docs/spatten.md §3): in-order requests, at
    most ``requests_per_channel_per_cycle`` per channel per cycle, ``fifo_depth`` per channel."""
    return CrossbarMemory(model, CrossbarLimits(requests_per_channel_per_cycle, fifo_depth))


MEMORY_PRESETS = ("hbm2", "hbm2-spatten-rtl", "hbm2-legacy", "ideal")


def _check_ideal(cfg: IdealMemoryConfig) -> None:
    """Every field of the ideal memory: its type and a plausible range, named in the error."""
    from spatten_sim.limits import LIMITS, short

    def need(ok: bool, key: str, rule: str) -> None:
        if not ok:
            raise ConfigError(f"memory.{key}: {rule} (got {short(getattr(cfg, key))})")

    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_real(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

    ch, bw, lat, tb = (cfg.channels, cfg.channel_bandwidth_gbps, cfg.latency_ns,
                       cfg.transaction_bytes)  # fmt: skip
    need(is_int(ch) and 1 <= ch <= LIMITS["channels"].hi, "channels",
         f"an integer in 1..{LIMITS['channels'].hi}")  # fmt: skip
    need(is_real(bw) and 0 < bw <= 1e6, "channel_bandwidth_gbps", "a number in (0, 1e6] GB/s")
    need(is_real(lat) and 0 <= lat <= 1e9, "latency_ns", "a number in [0, 1e9] ns")
    need(is_int(tb) and 1 <= tb <= 4096 and not tb & (tb - 1), "transaction_bytes",
         "a power of two in 1..4096 B")  # fmt: skip


DEFAULT_MEMORY_PRESET = "hbm2"


def make_memory(
    section: dict[str, Any] | None, clock_ghz: float = 1.0, kernel: str = "fast"
) -> MemoryModel:
    """Build the memory model named by ``section['preset']`` (default ``hbm2``) with the other
    keys as overrides of the preset's fields (docs/dram.md lists them).

    ``kernel`` picks the HBM2 controller kernel (``fast`` or ``reference``; identical results).
    Raises :class:`ConfigError` naming ``memory.<key>`` for unknown keys or bad values.
    """
    section = dict(section or {})
    preset = section.pop("preset", DEFAULT_MEMORY_PRESET)
    if preset == "ideal":
        known = set(IdealMemoryConfig.__dataclass_fields__)
        for key in section:
            if key not in known:
                raise ConfigError(
                    f"memory.{key}: unknown key for the 'ideal' memory model "
                    f"(known: preset, {', '.join(sorted(known))})"
                )
        cfg = IdealMemoryConfig(**section)
        _check_ideal(cfg)
        return IdealMemory(cfg, clock_ghz)
    from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, config_with_overrides

    if preset not in DRAM_PRESETS:
        raise ConfigError(
            f"memory.preset: unknown memory model {preset!r} (known: {', '.join(MEMORY_PRESETS)})"
        )
    if not (isinstance(clock_ghz, (int, float)) and clock_ghz > 0):
        raise ConfigError(f"clock_ghz: must be > 0 (got {clock_ghz!r})")
    return DramMemory(
        config_with_overrides(DRAM_PRESETS[preset], section), clock_ghz, kernel=kernel
    )
