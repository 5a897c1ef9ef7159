"""The Q-K-V fetcher: address generator, crossbars and bitwidth converter, in front of DRAM.

Hardware [P, docs/spatten.md §3; RTL MatrixFetcher.scala]: the address generator issues
``fetcher.address_issue_per_cycle`` (32) 32-B requests a cycle through the 32x16 address
crossbar (at most one per channel per cycle, 64-entry address FIFOs: applied by the memory
model's crossbar, :mod:`spatten_sim.hw.memory`); the data come back through the 16x32 data
crossbar and the bitwidth converter (4/6/8/12-bit DRAM words to the 12-bit on-chip word) into
the key or value buffer.

Timing (docs/timing-model.md §6): batches are served in submission order; a batch starts when
it is submitted and the address generator has issued the previous one; its ``k``-th request
reaches the memory ``k // address_issue_per_cycle`` cycles after the start. A row is ready in the
buffer ``bitwidth_converter.latency_cycles`` after its last transaction completes; the
converter's input rate (512 B a cycle) is the HBM2 peak (16 channels x 32 B a cycle), so it
never limits the stream and is charged as latency [ours].

Actions: ``requests``, address FIFO accesses (push + pop), data FIFO accesses (push + pop per
16-B entry), converter ``bytes``, and the key/value SRAM ``line_writes`` of the rows written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from spatten_sim.config import HwConfig
from spatten_sim.hw import numba_start
from spatten_sim.hw.dram.controller import prepare_batch, simulate
from spatten_sim.hw.dram.mapping import decode_into
from spatten_sim.hw.layout import AddressLayout, batch_transactions
from spatten_sim.hw.memory import MemoryModel
from spatten_sim.hw.units.base import ceil_div

numba_start.install()  # the cache stamp (see numba_start), before the first kernel

#: a part of a fetch: (stream, layer, head, rows, bits)
Part = tuple[str, int, int, np.ndarray, int]


@dataclass(frozen=True)
class FetchResult:
    """One batch: when it started and when each part's rows are ready in the buffers."""

    start_cycle: int  #: first request leaves the fetcher (== submit cycle for an empty batch)
    issue_cycles: int  #: cycles the address generator spends on it
    transactions: int
    ready: tuple[np.ndarray, ...]  #: int64 ready cycle of each row, one array per part


class Fetcher:
    """The fetcher and its memory; both timing models submit their batches through it."""

    unit = "fetcher"

    def __init__(
        self, cfg: HwConfig, layout: AddressLayout, memory: MemoryModel, head_dim: int
    ) -> None:
        self.cfg = cfg
        self.layout = layout
        self.mem = memory
        self.tx = memory.transaction_bytes
        self.per_cycle = cfg.fetcher.address_issue_per_cycle
        self.conv_latency = cfg.bitwidth_converter.latency_cycles
        self.line_bytes = cfg.qxk.multipliers * cfg.buffers.word_bits / 8
        self.row_bytes_on_chip = head_dim * cfg.buffers.word_bits / 8
        self.fast = cfg.timing.mode == "fast"  #: Numba address/ready path (else numpy)
        self.free_at = 0  #: the address generator is free from this cycle on
        self.transactions = 0
        self.busy_cycles = 0
        self.converter_busy_cycles = 0
        self.bytes_by_stream: dict[str, int] = dict.fromkeys(
            ("q", "q_lsb", "k_msb", "k_lsb", "v", "v_lsb"), 0
        )
        # the fused path (fast mode, HBM2 behind the crossbar): one Numba call per batch makes
        # the addresses, runs the controller kernel and the row-ready cycles
        inner = getattr(memory, "inner", None)
        self._dram = inner if self.fast and hasattr(inner, "fused_state") else None
        self._xbar = getattr(memory, "limits", None)
        self._res = np.zeros(4, np.int64)
        self._conv_bytes = cfg.bitwidth_converter.bytes_per_cycle
        self._fifo_width = cfg.fetcher.data_fifo_width_bytes

    def submit(self, now: int, parts: list[Part], actions=None) -> FetchResult:
        """Submit a batch at cycle ``now``; returns its rows' ready cycles (final: the memory
        model's results do not depend on later batches)."""
        if self.fast:
            res = self._submit_fast(now, parts, actions)
            if res is not None:
                return res
        return self._submit_reference(now, parts, actions)

    def _start(self, now: int, n: int) -> tuple[int, int, np.ndarray]:
        """The address generator takes an ``n``-request batch: its start, issue cycles and the
        cycle each request reaches the memory."""
        start = max(now, self.free_at)
        issue = ceil_div(n, self.per_cycle)
        self.free_at = start + issue
        return start, issue, start + np.arange(n, dtype=np.int64) // self.per_cycle

    def _account(self, n: int, issue: int, actions) -> None:
        nbytes = n * self.tx
        self.transactions += n
        self.busy_cycles += issue
        self.converter_busy_cycles += ceil_div(nbytes, self._conv_bytes)
        if actions is not None:
            f = actions["fetcher"]
            f["requests"] += n
            f["address_fifo_accesses"] += 2 * n
            f["data_fifo_accesses"] += 2 * nbytes / self._fifo_width
            actions["bitwidth_converter"]["bytes"] += nbytes

    def _submit_fast(self, now: int, parts: list[Part], actions) -> FetchResult | None:
        """Addresses and row-ready cycles in Numba (None: rows out of order, take the
        reference path, which sorts them)."""
        n_parts = len(parts)
        lay = self.layout
        # per part: base address, row width in bits, first row in rows_all (Python lists, one
        # array each after the loop: cheaper than item by item into arrays)
        base_l = [0] * n_parts
        bits_l = [0] * n_parts
        off_l = [0] * (n_parts + 1)
        bound = 0
        off = 0
        tx_bits = 8 * self.tx
        head_dim = lay.head_dim
        for p, (stream, layer, h, rows, bits) in enumerate(parts):
            base_l[p] = lay.base(stream, layer, h)
            rb = head_dim * bits if bits > 0 else 0
            bits_l[p] = rb
            off += rows.size
            off_l[p + 1] = off
            bound += rows.size * (rb // tx_bits + 2)
        bases = np.array(base_l, np.int64)
        row_bits = np.array(bits_l, np.int64)
        row_off = np.array(off_l, np.int64)
        rows_all = (
            np.concatenate([p[3] for p in parts], dtype=np.int64)
            if n_parts > 1
            else parts[0][3].astype(np.int64, copy=False)
        )
        addrs = np.empty(bound, np.int64)
        tx_off = np.empty(n_parts + 1, np.int64)
        dram = self._dram
        st = dram.fused_state(self._xbar) if dram is not None else None
        if st is not None:
            return self._submit_fused(now, parts, bases, row_bits, rows_all, off_l, row_off,
                                      bound, addrs, tx_off, st, actions)  # fmt: skip
        n = batch_transactions(bases, row_bits, rows_all, row_off, self.tx, addrs, tx_off)
        if n < 0:
            return None
        if n == 0:
            ready = tuple(np.full(p[3].size, now, np.int64) for p in parts)
            return FetchResult(now, 0, 0, ready)
        start, issue, arrivals = self._start(now, n)
        done = np.asarray(self.mem.access(addrs[:n], arrivals), dtype=np.int64)
        out = np.empty(rows_all.size, np.int64)
        rows_ready(bases, row_bits, rows_all, row_off, self.tx, addrs, tx_off, done,
                   self.conv_latency, self.free_at, out)  # fmt: skip
        for p, part in enumerate(parts):
            self.bytes_by_stream[part[0]] += int(tx_off[p + 1] - tx_off[p]) * self.tx
        self._account(n, issue, actions)
        ready = tuple(out[row_off[p] : row_off[p + 1]] for p in range(n_parts))
        return FetchResult(start, issue, n, ready)

    def _submit_fused(
        self, now, parts, bases, row_bits, rows_all, off_l, row_off, bound, addrs, tx_off, st,
        actions,
    ) -> FetchResult | None:  # fmt: skip
        """:meth:`_submit_fast` with the addresses, the memory model and the row-ready cycles in
        one Numba call (:func:`fetch_batch`): the same computation, without the Python and
        dispatch overhead of five calls per batch."""
        dram = self._dram
        assert dram is not None
        out = np.empty(rows_all.size, np.int64)
        res = self._res
        wr = dram.no_writes(bound)
        c0 = time.process_time()
        fetch_batch(bases, row_bits, rows_all, row_off, self.tx, now, self.free_at,
                    self.per_cycle, self.conv_latency, addrs, tx_off, out, wr, res, *st)  # fmt: skip
        cpu = time.process_time() - c0
        n = int(res[0])
        if n < 0:
            if n <= -1000:  # the checks of DramMemory.run_batch
                if n == -1001:
                    raise ValueError(
                        f"addresses must be non-negative and aligned to {dram.cfg.request_bytes} B"
                    )
                raise ValueError(
                    "arrival cycles must be non-negative and non-decreasing in a batch"
                )  # pragma: no cover
            return None  # rows out of order: the reference path sorts them
        if n == 0:
            return FetchResult(now, 0, 0, tuple(np.full(p[3].size, now, np.int64) for p in parts))
        _, start, issue, last = res.tolist()
        self.free_at = start + issue
        dram.fused_done(last, cpu)
        tx = self.tx
        by_stream = self.bytes_by_stream
        if len(parts) == 1:
            by_stream[parts[0][0]] += n * tx
            ready: tuple[np.ndarray, ...] = (out,)
        else:
            to = tx_off.tolist()
            for p, part in enumerate(parts):
                by_stream[part[0]] += (to[p + 1] - to[p]) * tx
            ready = tuple(out[off_l[p] : off_l[p + 1]] for p in range(len(parts)))
        self._account(n, issue, actions)
        return FetchResult(start, issue, n, ready)

    def _submit_reference(self, now: int, parts: list[Part], actions) -> FetchResult:
        """The plain numpy path (``timing.mode: reference``)."""
        lay = self.layout
        addrs = [lay.transactions(s, layer, h, rows, b) for s, layer, h, rows, b in parts]
        n = int(sum(a.size for a in addrs))
        if n == 0:
            ready = tuple(np.full(p[3].size, now, np.int64) for p in parts)
            return FetchResult(now, 0, 0, ready)
        start, issue, arrivals = self._start(now, n)
        allad = np.concatenate(addrs)
        done = np.asarray(self.mem.access(allad, arrivals), dtype=np.int64)
        ready_rows: list[np.ndarray] = []
        off = 0
        for (stream, layer, h, rows, bits), a in zip(parts, addrs, strict=True):
            comp = done[off : off + a.size]
            off += a.size
            self.bytes_by_stream[stream] += a.size * self.tx
            ready_rows.append(self._rows_ready(stream, layer, h, rows, bits, a, comp))
        self._account(n, issue, actions)
        return FetchResult(start, issue, n, tuple(ready_rows))

    def _rows_ready(self, stream, layer, head, rows, bits, addrs, comp) -> np.ndarray:
        if rows.size == 0:
            return np.zeros(0, np.int64)
        if addrs.size == 0:  # nothing to read (zero-bit words): ready after the converter
            return np.full(rows.size, self.free_at, np.int64)
        first, last = self.layout.row_spans(stream, layer, head, rows, bits)
        i0 = np.searchsorted(addrs, first)
        i1 = np.searchsorted(addrs, last)
        span = int((i1 - i0).max()) + 1
        idx = np.minimum(i0[:, None] + np.arange(span)[None, :], i1[:, None])
        return comp[idx].max(axis=1) + self.conv_latency

    def count_sram_write(self, actions, which: str, rows: int) -> None:
        """Key/value SRAM lines written for ``rows`` rows (nothing counted for none)."""
        if rows > 0:
            actions[which]["line_writes"] += rows * self.row_bytes_on_chip / self.line_bytes


@njit(cache=True)
def rows_ready(bases, row_bits, rows, row_off, tx, addrs, tx_off, done, conv, free_at, out):
    """Ready cycle of every row of a batch (the fast form of ``Fetcher._rows_ready``): the
    latest completion among the transactions covering it plus the converter latency; a part with
    nothing to read is ready at ``free_at``. Rows are strictly ascending within a part."""
    tx_bits = 8 * tx
    for p in range(bases.shape[0]):
        lo, hi = tx_off[p], tx_off[p + 1]
        rb = row_bits[p]
        k = lo
        for j in range(row_off[p], row_off[p + 1]):
            if hi == lo:
                out[j] = free_at
                continue
            r = rows[j]
            first = bases[p] + (r * rb // tx_bits) * tx
            last = bases[p] + (((r + 1) * rb - 1) // tx_bits) * tx
            while addrs[k] < first:
                k += 1
            m = done[k]
            kk = k
            while kk + 1 < hi and addrs[kk + 1] <= last:
                kk += 1
                if done[kk] > m:
                    m = done[kk]
            out[j] = m + conv
    return 0


@njit(cache=True)
def fetch_batch(
    bases, row_bits, rows, row_off, tx, now, free_at, per_cycle, conv, addrs, tx_off, out, wr,
    res, table, table_sizes, xor, request_bytes, n_channels, ch_start, params, tm, bank_st,
    grp_st, rank_st, faw, pc_st, ch_st, counters, inflight, inflight_n, front, hist, log, log_n,
):  # fmt: skip
    """One batch of the fetcher through the HBM2 model, in one call: what
    :meth:`Fetcher._submit_fast` does with :func:`batch_transactions`, the address generator's
    issue cycles, ``DramMemory.access`` (decode, per-channel grouping, the controller kernel;
    memory clock = accelerator clock, all reads) and :func:`rows_ready`, the same steps in the
    same order.

    ``res`` gets [transactions (or the -1 - part code of :func:`batch_transactions`, or -1000 -
    the error of ``prepare_batch``), start cycle, issue cycles, the kernel's last tick]; ``out``
    the rows' ready cycles. Nothing is changed when the batch has no transaction or fails.
    """
    n = batch_transactions(bases, row_bits, rows, row_off, tx, addrs, tx_off)
    res[0] = n
    if n <= 0:
        return
    start = max(now, free_at)
    issue = (n + per_cycle - 1) // per_cycle
    a = addrs[:n]
    buf = np.empty((9, n), np.int64)
    arrival = buf[0]
    for k in range(n):
        arrival[k] = start + k // per_cycle
    ch = buf[1]
    bank = buf[2]
    row = buf[3]
    order = buf[4]
    push = buf[5]
    accept = buf[6]
    issue_c = buf[7]
    done = buf[8]
    decode_into(a, table, table_sizes, xor, ch, bank, row)
    err = prepare_batch(a, arrival, request_bytes, n_channels, ch, order, ch_start)
    if err != 0:
        res[0] = -1000 - err
        return
    last = simulate(
        ch, bank, row, wr[:n], arrival, order, ch_start, push, accept, issue_c, done, params, tm,
        bank_st, grp_st, rank_st, faw, pc_st, ch_st, counters, inflight, inflight_n, front, hist,
        log, log_n,
    )  # fmt: skip
    rows_ready(bases, row_bits, rows, row_off, tx, a, tx_off, done, conv, start + issue, out)
    res[1] = start
    res[2] = issue
    res[3] = last
