"""The bank-level HBM2 memory model: the core's :class:`~spatten_sim.hw.memory.MemoryModel`.

:class:`DramMemory` decodes addresses with the preset's mapper, runs the controller kernel
(:mod:`.controller`) over each batch and keeps all device and controller state between batches.

Cross-batch scheduling: a batch is simulated until its last request has issued its column command,
so that every completion cycle it returns is final. A later batch therefore never overtakes an
earlier one inside a channel: a request of the new batch that arrives before the channel's last
issued command of the previous batch waits until the cycle after it ("the earlier batch keeps
priority"), and sees the banks, timers and refresh schedule exactly as the earlier batch left
them. Channels are independent of each other, so a new batch is delayed only on channels that
were still busy. Refreshes that fall due while a channel is idle are performed when it next
works, at their due cycles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatten_sim.hw.dram import controller as K
from spatten_sim.hw.dram.config import DramConfig
from spatten_sim.hw.dram.mapping import AddressMapper, decode_into
from spatten_sim.hw.dram.timing import effective_timing

#: the controller kernels: ``fast`` (production) and ``reference`` (the simple one it is tested
#: against: same commands, same cycles, every slot scanned every tick; imported when used)
KERNELS = ("fast", "reference")


def _kernel(name: str) -> Any:
    if name == "reference":
        from spatten_sim.hw.dram import controller_reference as KR

        return KR.simulate
    return K.simulate


HIST_BINS = 16384  #: latency histogram: 1-cycle bins (memory clock), last bin = overflow


@dataclass(frozen=True)
class FrontendLimits:
    """How requests enter the controllers (see :mod:`.controller`).

    ``in_order=False`` with the rest at 0 is the plain memory interface: each channel takes its
    requests when they arrive. ``in_order=True`` sends them from one queue in order.
    """

    in_order: bool = False
    fifo_depth: int = -1  #: per-channel FIFO before the controller; -1 unlimited, 0 none
    per_channel_per_cycle: int = 0  #: 0 = unlimited
    issue_per_cycle: int = 0  #: requests sent per memory cycle in all; 0 = unlimited
    max_outstanding: int = 0  #: sent and not completed, whole memory; 0 = unlimited


@dataclass(frozen=True)
class BatchTimes:
    """Memory-clock cycles of each request of a batch."""

    arrival: np.ndarray  #: given
    push: np.ndarray  #: left the frontend (entered the channel's FIFO or buffer)
    accept: np.ndarray  #: entered the controller's read/write buffer
    issue: np.ndarray  #: its RD/WR issued
    done: np.ndarray  #: data transferred


class DramMemory:
    """A DRAM stack of independent channels, each a bank-level JEDEC-timed controller.

    Organisation, timing, scheduling and mapping come from a :class:`DramConfig` (presets in
    :mod:`.presets`). ``clock_ghz`` is the accelerator clock of the cycles given to and returned
    by :meth:`access`; the controller runs at ``1 / tck_ns`` GHz and converts.
    """

    supports_crossbar = True

    def __init__(
        self,
        cfg: DramConfig,
        clock_ghz: float = 1.0,
        *,
        log_commands: int = 0,
        kernel: str = "fast",
    ) -> None:
        cfg.validate()
        if not clock_ghz > 0:
            raise ValueError("clock_ghz must be > 0")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
        self.kernel = kernel
        self._simulate = _kernel(kernel)
        #: a :class:`~.stream.StreamRecorder` that sees every batch, or None
        self.recorder: Any = None
        self.kernel_cpu_seconds = 0.0  #: CPU time spent in the controller kernel (for the bench)
        self.batches = 0
        self.cfg = cfg
        self.name = cfg.name
        self.mapper = AddressMapper(cfg)
        self.transaction_bytes = cfg.request_bytes
        self.n_channels = cfg.channels
        self.clock_ghz = float(clock_ghz)
        self.clock_ratio = cfg.mem_clock_ghz / self.clock_ghz  #: memory cycles per accel. cycle
        # bytes delivered per memory cycle at peak: one request per burst slot
        self.peak_bandwidth_gbps = cfg.peak_bandwidth_gbps * cfg.request_bytes / cfg.burst_bytes
        self.description = (
            f"{cfg.name}: {cfg.description}; {cfg.channels} ch x {cfg.pseudo_channels} PC x "
            f"{cfg.bank_groups * cfg.banks_per_group} banks; "
            f"mapping {cfg.mapping} ({self.mapper.describe()}); "
            f"peak {self.peak_bandwidth_gbps:g} GB/s"
        )
        self._timing = effective_timing(cfg)
        self._params = np.zeros(K.N_PARAMS, dtype=np.int64)
        p = self._params
        p[K.P_CHANNELS] = cfg.channels
        p[K.P_BANKS] = cfg.banks_per_channel
        p[K.P_BANKS_PER_GROUP] = cfg.banks_per_group
        p[K.P_GROUPS_PER_RANK] = cfg.bank_groups
        p[K.P_RANKS_PER_PC] = cfg.ranks
        p[K.P_PCS] = cfg.pseudo_channels
        p[K.P_READ_BUF] = cfg.read_buffer
        p[K.P_WRITE_BUF] = cfg.write_buffer
        p[K.P_MAX_OUT_CH] = cfg.max_outstanding_per_channel
        p[K.P_CLOSED] = 1 if cfg.row_policy == "closed" else 0
        p[K.P_REFRESH] = 1 if cfg.refresh else 0
        p[K.P_NREFI] = cfg.nREFI
        p[K.P_WR_HI] = max(1, math.ceil(cfg.write_high_watermark * cfg.write_buffer))
        p[K.P_WR_LO] = int(cfg.write_low_watermark * cfg.write_buffer)
        p[K.P_LOG] = 1 if log_commands else 0
        p[K.P_CMD_DELAY] = cfg.command_delay_cycles
        (
            self._bank,
            self._group,
            self._rank,
            self._faw,
            self._pc,
            self._chan,
            self._counters,
            self._inflight,
            self._inflight_n,
            self._front,
        ) = K.new_state(p)
        self._hist = np.zeros(HIST_BINS, dtype=np.int64)
        self._log = np.zeros((max(0, int(log_commands)), K.LOG_COLS), dtype=np.int64)
        self._log_n = np.zeros(1, dtype=np.int64)
        self._last_cycle = 0
        self._start = np.empty(cfg.channels + 1, dtype=np.int64)
        self._frontend: FrontendLimits | None = None  #: the one whose fields are in _params
        self._frontends: dict[Any, FrontendLimits] = {}  #: per crossbar limits given to access
        self._no_writes = np.zeros(8192, dtype=np.int64)
        self._fused: tuple[Any, ...] | None = None  #: :meth:`fused_state`, made on first use
        # the crossbar and frontend of the last fused_state call (a fresh object: none yet)
        self._fused_for: Any = object()
        self._fused_fe: Any = object()

    # ------------------------------------------------------------------ core interface
    def access(
        self,
        addresses: np.ndarray,
        arrival_cycles: np.ndarray,
        is_write: np.ndarray | None = None,
        *,
        crossbar: Any = None,
    ) -> np.ndarray:
        """Completion cycle (accelerator clock) of each transaction; see MemoryModel.

        ``crossbar`` (a :class:`spatten_sim.hw.memory.CrossbarLimits`) puts the fetcher crossbar
        in front of the controllers: in-order issue, at most ``requests_per_channel_per_cycle``
        per channel per cycle, a ``fifo_depth``-entry address FIFO per channel.
        """
        addresses = np.asarray(addresses, dtype=np.int64)
        arrival = np.asarray(arrival_cycles, dtype=np.int64)
        if addresses.shape != arrival.shape or addresses.ndim != 1:
            raise ValueError("addresses and arrival_cycles must be 1-D arrays of the same length")
        if addresses.size == 0:
            return np.zeros(0, dtype=np.int64)
        if self.clock_ratio != 1.0:
            arrival_mem = np.ceil(arrival * self.clock_ratio - 1e-9).astype(np.int64)
        else:
            arrival_mem = arrival
        times = self.run_batch(addresses, arrival_mem, is_write, self._frontend_for(crossbar))
        if self.clock_ratio != 1.0:
            done = np.ceil(times.done / self.clock_ratio - 1e-9).astype(np.int64)
            return np.maximum(done, arrival)
        return times.done

    def _frontend_for(self, crossbar: Any) -> FrontendLimits:
        """The :class:`FrontendLimits` of ``crossbar`` (None: the plain memory interface), made
        on first use and kept (the one object per crossbar that ``_params`` is set from)."""
        fe = self._frontends.get(crossbar)
        if fe is None:
            fe = self._frontends[crossbar] = (
                FrontendLimits()
                if crossbar is None
                else FrontendLimits(
                    in_order=True,
                    fifo_depth=int(crossbar.fifo_depth),
                    per_channel_per_cycle=int(crossbar.requests_per_channel_per_cycle),
                )
            )
        return fe

    def run_batch(
        self,
        addresses: np.ndarray,
        arrival_mem_cycles: np.ndarray,
        is_write: np.ndarray | None,
        frontend: FrontendLimits,
    ) -> BatchTimes:
        """Simulate one batch with arrival times in memory cycles; all times in memory cycles."""
        addresses = np.ascontiguousarray(addresses, dtype=np.int64)
        arrival = np.ascontiguousarray(arrival_mem_cycles, dtype=np.int64)
        n = addresses.shape[0]
        if arrival.shape != (n,):
            raise ValueError("one arrival cycle per address required")
        if is_write is None:
            wr = self._no_writes if n <= self._no_writes.shape[0] else np.zeros(n, np.int64)
        else:
            wr = np.asarray(is_write, dtype=bool).astype(np.int64)
            if wr.shape != (n,):
                raise ValueError("is_write must have one entry per address")
        if self.recorder is not None:
            self.recorder.add(addresses, arrival, is_write, frontend)
        # one block for the decoded fields, the channel order and the four output cycles
        buf = np.empty((8, n), dtype=np.int64)
        ch, bank, row, order, push, accept, issue, done = buf
        mp = self.mapper
        decode_into(addresses, mp.table, mp.table_sizes, mp.xor, ch, bank, row)
        start = self._start
        err = K.prepare_batch(addresses, arrival, self.cfg.request_bytes, self.cfg.channels, ch,
                              order, start)  # fmt: skip
        if err == 1:
            raise ValueError(
                f"addresses must be non-negative and aligned to {self.cfg.request_bytes} B"
            )
        if err == 2:
            raise ValueError("arrival cycles must be non-negative and non-decreasing in a batch")
        p = self._params
        if frontend is not self._frontend:
            p[K.P_IN_ORDER] = 1 if frontend.in_order else 0
            p[K.P_FIFO_DEPTH] = frontend.fifo_depth
            p[K.P_PER_CH_CYCLE] = frontend.per_channel_per_cycle
            p[K.P_ISSUE_CYCLE] = frontend.issue_per_cycle
            p[K.P_MAX_OUT] = frontend.max_outstanding
            self._frontend = frontend
        c0 = time.process_time()
        last = self._simulate(
            ch,
            bank,
            row,
            wr,
            arrival,
            order,
            start,
            push,
            accept,
            issue,
            done,
            p,
            self._timing,
            self._bank,
            self._group,
            self._rank,
            self._faw,
            self._pc,
            self._chan,
            self._counters,
            self._inflight,
            self._inflight_n,
            self._front,
            self._hist,
            self._log,
            self._log_n,
        )
        self.kernel_cpu_seconds += time.process_time() - c0
        self.batches += 1
        self._last_cycle = max(self._last_cycle, int(last))
        return BatchTimes(arrival=arrival, push=push, accept=accept, issue=issue, done=done)

    # ------------------------------------------------------------------ fused fetch path
    def fused_state(self, crossbar: Any) -> tuple[Any, ...] | None:
        """What a fused Numba caller (``hw/units/fetcher.py: fetch_batch``) needs to run a batch
        through this model exactly as :meth:`access` with ``crossbar`` would: the mapper tables,
        the parameter vector (frontend fields set for ``crossbar``), the timing vector and the
        state arrays. None when the batch must take :meth:`access` (the reference kernel, a
        recorder, a memory clock other than the accelerator's).

        After the call the caller reports it with :meth:`fused_done`."""
        if self.kernel != "fast" or self.recorder is not None or self.clock_ratio != 1.0:
            return None
        if crossbar is self._fused_for and self._frontend is self._fused_fe:
            return self._fused  # the same crossbar object as the last call: nothing to set
        fe = self._frontend_for(crossbar)  # the first batch too: the same frontend as access
        if fe is not self._frontend:
            p = self._params
            p[K.P_IN_ORDER] = 1 if fe.in_order else 0
            p[K.P_FIFO_DEPTH] = fe.fifo_depth
            p[K.P_PER_CH_CYCLE] = fe.per_channel_per_cycle
            p[K.P_ISSUE_CYCLE] = fe.issue_per_cycle
            p[K.P_MAX_OUT] = fe.max_outstanding
            self._frontend = fe
        st = self._fused
        if st is None:
            mp = self.mapper
            st = self._fused = (
                mp.table, mp.table_sizes, mp.xor, self.cfg.request_bytes, self.cfg.channels,
                self._start, self._params, self._timing, self._bank, self._group, self._rank,
                self._faw, self._pc, self._chan, self._counters, self._inflight,
                self._inflight_n, self._front, self._hist, self._log, self._log_n,
            )  # fmt: skip
        self._fused_for, self._fused_fe = crossbar, fe
        return st

    def no_writes(self, n: int) -> np.ndarray:
        """An all-reads ``is_write`` vector of at least ``n`` entries (read-only, shared)."""
        if self._no_writes.shape[0] < n:
            self._no_writes = np.zeros(max(n, 2 * self._no_writes.shape[0]), dtype=np.int64)
        return self._no_writes

    def fused_done(self, last_tick: int, cpu_seconds: float) -> None:
        """Book a batch run by a fused caller (as :meth:`run_batch` does after the kernel)."""
        self.kernel_cpu_seconds += cpu_seconds
        self.batches += 1
        self._last_cycle = max(self._last_cycle, int(last_tick))

    # ------------------------------------------------------------------ statistics
    def command_log(self) -> np.ndarray:
        """Issued commands (cycle, channel, command, bank or PC, row), if logging was enabled."""
        n = min(int(self._log_n[0]), self._log.shape[0])
        return self._log[:n].copy()

    def command_log_overflowed(self) -> bool:
        return int(self._log_n[0]) > self._log.shape[0]

    def stats(self) -> dict[str, Any]:
        """Counters so far; latencies in accelerator cycles (``*_ns`` in nanoseconds)."""
        k = self._counters
        tot = k.sum(axis=0)
        reads, writes = int(tot[K.K_READS]), int(tot[K.K_WRITES])
        n = reads + writes
        r = self.clock_ratio
        tck = self.cfg.tck_ns
        p50 = _hist_percentile(self._hist, 50.0)
        p99 = _hist_percentile(self._hist, 99.0)
        first = k[:, K.K_FIRST_ARRIVAL]
        started = first[first >= 0]
        span = int(k[:, K.K_LAST_DONE].max()) - (int(started.min()) if started.size else 0)
        span = max(span, 0)
        bytes_total = n * self.cfg.request_bytes
        mean_mem = float(tot[K.K_LAT_SUM]) / n if n else 0.0
        return {
            "memory_model": self.name,
            "reads": reads,
            "writes": writes,
            "bytes_read": reads * self.cfg.request_bytes,
            "bytes_written": writes * self.cfg.request_bytes,
            "activations": int(tot[K.K_ACTS]),
            "precharges": int(tot[K.K_PRES]),
            "refreshes": int(tot[K.K_REFS]),
            "row_hits": int(tot[K.K_HITS]),
            "row_misses": int(tot[K.K_MISSES]),
            "row_conflicts": int(tot[K.K_CONFLICTS]),
            "channel_busy_cycles": [
                round(float(b) / self.cfg.pseudo_channels / r) for b in k[:, K.K_BUSY]
            ],
            "channel_requests": [int(x) for x in k[:, K.K_READS] + k[:, K.K_WRITES]],
            "avg_queue_occupancy": [float(q) / span if span else 0.0 for q in k[:, K.K_QUEUE_SUM]],
            "avg_latency_cycles": mean_mem / r,
            "p50_latency_cycles": p50 / r,
            "p99_latency_cycles": p99 / r,
            "max_latency_cycles": float(k[:, K.K_MAX_LAT].max()) / r if n else 0.0,
            "avg_latency_ns": mean_mem * tck,
            "p50_latency_ns": p50 * tck,
            "p99_latency_ns": p99 * tck,
            "span_cycles": span / r,
            "bandwidth_gbps": bytes_total / (span * tck) if span else 0.0,
            "peak_bandwidth_gbps": self.peak_bandwidth_gbps,
        }


def _hist_percentile(hist: np.ndarray, q: float) -> float:
    """The smallest latency with at least q% of requests at or below it (nearest rank)."""
    total = int(hist.sum())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * total))
    return float(np.searchsorted(np.cumsum(hist), rank))
