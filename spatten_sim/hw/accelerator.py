"""The SpAtten accelerator as a discrete-event SimPy model (the timing phase, production mode).

The machine follows docs/timing-model.md rule for rule; its units' figures come from
:mod:`spatten_sim.hw.units` (one module per unit) and nothing here has a number of its own. The
model has one SimPy event per job and phase of work, never one per cycle or per element:

* the **sequencer** starts layers (after the token/head top-k between them) and hands heads
  their K/V slots (double buffering) in program order;
* the **arbiter** admits one request a cycle into the pipeline -- a pending re-quantization
  first, else the next new query while the request window and the key buffer allow -- submits its
  fetch to the **fetcher** (a DRAM batch through the memory model) and streams the pass through
  the front chain (QxK, softmax, decision) with :class:`~spatten_sim.hw.streaming.FrontChain`;
* the **back chain** takes the decided queries in program order through the local-V top-k
  engine and probxV (:class:`~spatten_sim.hw.streaming.BackChain`), allocating the value buffer
  and fetching V when the engine hands on a query's first kept element;
* a **retire** event per query frees its value buffer and, for a head's last query, its slot, and
  closes the layer.

Within a cycle, events run in the contract's phase order (releases, layer starts, slot
acquisitions, the arbiter, value-buffer allocations), so DRAM batches reach the memory model in
the same order as in the cycle-stepped reference (:mod:`spatten_sim.hw.reference`), which gives
the same cycles, layer starts and ends, busy and stall counts (tests/hw/test_equivalence.py).
The model only replays the :class:`~spatten_sim.workload.Workload`: every decision was made by
the functional phase from the data.
"""

from __future__ import annotations

import time
from bisect import insort
from collections import defaultdict
from collections.abc import Callable
from functools import partial

import numpy as np
import simpy
from simpy.events import EventPriority

from spatten_sim.config import HwConfig
from spatten_sim.hw.generation import FETCH_FIELDS, LOG_FETCH, LOG_PASS, generation_layer
from spatten_sim.hw.layout import AddressLayout
from spatten_sim.hw.memory import MemoryModel
from spatten_sim.hw.result import LayerRecord, TimingResult, dram_actions, layer_record
from spatten_sim.hw.streaming import BackChain, FrontChain, busy_runs, summarization_head
from spatten_sim.hw.units import UNITS, build_pipeline
from spatten_sim.hw.units import accumulators as acc_unit
from spatten_sim.hw.units.fetcher import Fetcher
from spatten_sim.workload import HeadJob, TopkCall, Workload

__all__ = ["UNITS", "LayerRecord", "TimingResult", "run_timing"]

#: wall-clock seconds between two progress lines of a long timing phase
PROGRESS_INTERVAL_S = 5.0

#: phases within a cycle (docs/timing-model.md §5), after SimPy's own events of the cycle
_RELEASE, _LAYER, _SLOT, _ARBITER, _VALLOC = (EventPriority(p) for p in (10, 11, 12, 13, 14))
_INF = 1 << 62
_EMPTY = np.zeros(0, np.int64)


class _Head:
    """Per-head state shared by its jobs."""

    __slots__ = (
        "first_job", "hj", "key", "last_job", "li", "lsb", "lsb_done", "q_ready", "qlsb", "split",
    )  # fmt: skip

    def __init__(self, hj: HeadJob, li: int, split: bool) -> None:
        self.hj = hj
        self.li = li
        self.split = split
        self.key = (hj.layer, hj.kv_head, hj.iteration)
        self.q_ready: np.ndarray = _EMPTY
        self.lsb: np.ndarray | None = None  #: the head's own K LSB rows, once fetched
        self.lsb_done = False  #: the head's LSB fetch was submitted
        self.qlsb: np.ndarray | None = None  #: the head's Q LSB rows, once fetched
        self.first_job = 0
        self.last_job = 0


class _Job:
    """One query of one head."""

    __slots__ = (
        "a",
        "extra",
        "head",
        "idx",
        "k_rows",
        "kbytes",
        "m",
        "n",
        "qi",
        "requant",
        "select",
        "topk_cycles",
    )  # fmt: skip

    def __init__(self, head: _Head, qi: int, idx: int, pipe) -> None:
        hj = head.hj
        self.head = head
        self.qi = qi
        self.idx = idx
        self.n = max(1, int(hj.keys_per_query[qi]))
        self.m = max(1, int(hj.v_kept[qi]))
        self.requant = bool(hj.requant[qi])
        self.topk_cycles = int(hj.local_topk_cycles[qi])
        self.select = pipe.topk.is_select(self.n, self.m, self.topk_cycles)
        self.extra = pipe.topk.extra_rounds(self.n, self.topk_cycles) if self.select else 0
        self.k_rows: np.ndarray = _EMPTY  #: split heads: the rows this job fetches
        self.kbytes = 0
        self.a: np.ndarray | None = None  #: final pass: cycles its elements leave the decision


class _Jobs:
    """The query jobs in program order, each made on first use (the event-free summarization
    path never needs its jobs as objects)."""

    def __init__(self, pipe) -> None:
        self._pipe = pipe
        self._items: list[_Job | None] = []
        self._head_of: list[_Head] = []

    def add_head(self, h: _Head) -> None:
        n = h.hj.n_queries
        self._items.extend([None] * n)
        self._head_of.extend([h] * n)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, j: int) -> _Job:
        job = self._items[j]
        if job is None:
            h = self._head_of[j]
            job = self._items[j] = _Job(h, j - h.first_job, j, self._pipe)
        return job


class Accelerator:
    """SimPy model of one SpAtten accelerator attached to a memory model."""

    def __init__(
        self,
        cfg: HwConfig,
        workload: Workload,
        memory: MemoryModel,
        record_timeline: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.wl = workload
        self.mem = memory
        self.env = simpy.Environment()
        self.events = 0  #: events scheduled (for the bench)
        self._progress = progress
        self._t_start = self._t_last = time.perf_counter()
        self.timeline: list[tuple[str, str, int, int]] | None = [] if record_timeline else None
        self._tl_last: dict[str, int] = {}  #: timeline: last busy cycle recorded per unit
        d = workload.head_dim
        self.pipe = pipe = build_pipeline(cfg, d)
        self.bufs = pipe.buffers
        self.layout = AddressLayout.for_workload(
            workload, cfg.buffers.word_bits, memory.transaction_bytes
        )
        self.fetcher = Fetcher(cfg, self.layout, memory, d)
        self.actions: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        # heads and jobs in program order
        self.heads: list[list[_Head]] = []
        self.jobs = _Jobs(pipe)
        max_n = 1
        for li, lj in enumerate(workload.layers):
            row = []
            for hj in lj.heads:
                if hj.n_queries == 0:
                    continue
                split = hj.stage == "summarization" and self.bufs.is_split(hj)
                h = _Head(hj, li, split)
                h.first_job = len(self.jobs)
                self.jobs.add_head(h)
                h.last_job = len(self.jobs) - 1
                max_n = max(max_n, int(hj.keys_per_query.max()))
                row.append(h)
            self.heads.append(row)
        self.front = FrontChain(pipe.front, max_n)
        self.back = BackChain(pipe.topk.rate, pipe.topk_cap, pipe.probxv.rate, pipe.probxv.depth)
        self.heads_split = 0
        self._groups: dict[tuple[int, int, int], dict[str, np.ndarray]] = defaultdict(dict)
        self._layer_bytes: dict[int, int] = defaultdict(int)
        self._layer_start: dict[int, int] = {}
        self._layer_end: dict[int, int] = {}
        self._layer_left = [sum(h.hj.n_queries for h in row) for row in self.heads]
        self._topk_busy = 0
        # arbiter state
        self._eligible: list[int] = [-1] * len(self.jobs)  #: cycle a new job may be arbitrated
        self._next_new = 0
        self._occ = 0
        self._wrel: list[int] = []  #: window releases (decision reports) still ahead
        self._kused = 0
        self._krel: list[tuple[int, int]] = []  #: known key-buffer releases (cycle, bytes)
        self._pending: list[tuple[int, int]] = []  #: redos: (report cycle, job index)
        self._arb_last = -1
        self._arb_wake = _INF
        self._arb_token = 0
        # back chain state
        self._back_next = 0
        self._back_busy = False
        self._vused = 0
        self._vrel: list[tuple[int, int]] = []  #: value-buffer releases (cycle, bytes)
        # sequencer state
        self._slots_free = self.bufs.slots
        self._seq_waiting: simpy.Event | None = None
        self._layer_done: simpy.Event | None = None
        self._jobs_done = 0

    # ------------------------------------------------------------------ helpers
    def _at(
        self, cycle: int, phase: EventPriority, fn: Callable[[], None] | None = None
    ) -> simpy.Event:
        """An event at ``cycle`` in ``phase`` of that cycle (running ``fn`` when it fires)."""
        env = self.env
        assert cycle >= env.now, (cycle, env.now)
        self.events += 1
        ev = simpy.Event(env)
        ev._ok = True
        ev._value = None
        if fn is not None:
            ev.callbacks.append(lambda _e: fn())
        env.schedule(ev, phase, cycle - env.now)
        return ev

    def _mark(self, unit: str, start: int, end: int) -> None:
        if self.timeline is not None and end > start:
            self.timeline.append((unit, "busy", int(start), int(end)))

    def _record(self, unit: str, takes: np.ndarray, stall: bool = True) -> None:
        """Timeline: the busy runs of one job at one unit, and its stalls between them."""
        assert self.timeline is not None
        last = self._tl_last.get(unit, -1)
        runs = busy_runs(takes, last)
        if not runs:
            return
        prev_end = None
        for a, b in runs:
            if stall and prev_end is not None and a > prev_end:
                self.timeline.append((unit, "stall", prev_end, a))
            self.timeline.append((unit, "busy", a, b))
            prev_end = b
        if stall and int(takes[0]) <= last and runs[0][0] > last + 1:
            self.timeline.append((unit, "stall", last + 1, runs[0][0]))
        self._tl_last[unit] = runs[-1][1] - 1

    def _fetch(self, li: int, parts, now: int | None = None) -> tuple[np.ndarray, ...]:
        res = self.fetcher.submit(int(self.env.now) if now is None else now, parts, self.actions)
        self._layer_bytes[li] += res.transactions * self.fetcher.tx
        if res.transactions:
            self._mark("fetcher", res.start_cycle, res.start_cycle + res.issue_cycles)
        return res.ready

    @staticmethod
    def _row(ready: np.ndarray, i: int, default: int) -> int:
        return int(ready[min(i, ready.size - 1)]) if ready.size else default

    # ------------------------------------------------------------------ sequencer
    def _topk_call(self, t: int, call: TopkCall | None) -> int:
        if call is None or call.cycles <= 0:
            return t
        c = int(call.cycles)
        self._topk_busy += c
        self.pipe.topk.count(self.actions, "topk_token_head", c)
        self._mark("topk_token_head", t, t + c)
        return t + c

    def _sequencer(self):
        barrier = self.cfg.timing.layer_barrier
        prev_end = prev_start = 0
        layers = self.wl.layers
        for li, lj in enumerate(layers):
            t = prev_end if barrier else prev_start
            if li > 0:
                t = self._topk_call(t, layers[li - 1].head_topk)
            t = self._topk_call(t, lj.token_topk)
            if not barrier and li > 0:
                t = max(t, int(self.env.now))  # the previous layer's heads have their slots
            yield self._at(t, _LAYER)
            self._layer_start[li] = prev_start = t
            if self._layer_left[li] == 0:
                self._layer_end[li] = t
            elif barrier and self._summarization_fast_ok(li):
                end = self._summarization_layer(li, t)
                yield self._at(end, _RELEASE)
            elif barrier and self._generation_fast_ok(li):
                end = self._generation_layer(li, t)
                yield self._at(end, _RELEASE)
            else:
                for h in self.heads[li]:
                    if h.hj.stage == "generation":
                        for j in range(h.first_job, h.last_job + 1):
                            self._eligible[j] = t
                        self._poke()
                        continue
                    yield self._at(int(self.env.now), _SLOT)
                    while self._slots_free == 0:
                        self._seq_waiting = self.env.event()
                        yield self._seq_waiting
                        yield self._at(int(self.env.now), _SLOT)
                    self._slots_free -= 1
                    self._acquire(h)
                    self._poke()
                if barrier:
                    yield from self._wait_layer(li)
            if barrier:
                prev_end = self._layer_end[li]
        if layers:
            for li in range(len(layers)):  # without the barrier, layers may end out of order
                yield from self._wait_layer(li)
            end = max(self._layer_end.values())
            self.cycles = self._topk_call(end, layers[-1].head_topk)

    # ------------------------------------------------------------------ summarization, fast
    def _summarization_fast_ok(self, li: int) -> bool:
        """A layer whose jobs the fast path may time without events: the fast mode, no
        timeline, every head summarization and not split, no query re-fetching its LSBs, and
        the machine drained (layer barrier: nothing of an earlier layer is in flight)."""
        if self.cfg.timing.mode != "fast" or self.timeline is not None:
            return False
        if self._pending or self._back_busy or self._slots_free != self.bufs.slots:
            return False
        heads = self.heads[li]
        if (
            not heads
            or self._back_next != heads[0].first_job
            or self._next_new != heads[0].first_job
        ):
            return False
        return all(
            h.hj.stage == "summarization" and not h.split and not h.hj.requant.any() for h in heads
        )

    def _summarization_layer(self, li: int, t0: int) -> int:
        """Time a layer of summarization heads without events; returns its end cycle.

        Every decision of the event path is a function of times known in program order here:
        a head takes a K/V slot at the later of the previous head's acquisition and the
        retirement of the head whose slot it reuses (its last job); its jobs are admitted in
        order, one a cycle, from the acquisition on, while the request window has room (a
        decision report frees a place at its cycle); no job re-fetches LSBs, so no redo
        competes, and no head is split, so no key or value buffer allocation waits. Each job's
        front and back chain run as in the event path. The fetches go to the memory in the same
        order and at the same cycles. ``tests/test_timing_modes.py`` checks that the reports
        equal the event path's (``timing.mode: reference``) exactly.
        """
        heads = self.heads[li]
        pipe = self.pipe
        window = self.bufs.window
        free0 = self._slots_free
        wrel = self._wrel
        arb_last = self._arb_last
        acts = self.actions
        retired: list[int] = []  #: the last job's retire cycle of each head so far
        a = t0
        end = t0
        for hi, h in enumerate(heads):
            if hi >= free0:  # wait for a slot: the (hi - free0 + 1)-th head retirement
                a = max(a, sorted(retired)[hi - free0])
            self._acquire(h, a)
            g = self._groups[h.key]
            hj = h.hj
            n = np.maximum(1, hj.keys_per_query.astype(np.int64))
            m = np.maximum(1, hj.v_kept.astype(np.int64))
            cyc = hj.local_topk_cycles.astype(np.int64)
            select = np.asarray(pipe.topk.is_select(n, m, cyc), np.bool_)
            # the head's actions at once (the units count arrays of jobs; same keys, same order)
            pipe.qxk.count(acts, n)
            pipe.softmax.count(acts, n)
            pipe.decision.count(acts, n)
            acc_unit.count(acts, n)
            topk = cyc[select & (cyc > 0)]
            if topk.size and select[0] and cyc[0] > 0:
                pipe.topk.count(acts, "topk_local_v", int(topk.sum()))
            pipe.probxv.count(acts, m)
            if topk.size and not (select[0] and cyc[0] > 0):
                pipe.topk.count(acts, "topk_local_v", int(topk.sum()))
            arrays = {
                "qi": np.arange(n.size, dtype=np.int64),
                "n": n,
                "m": m,
                "select": select,
                "extra": np.where(select, pipe.topk.extra_rounds(n, cyc), 0).astype(np.int64),
            }
            arb_last, retire, rmax = summarization_head(
                self.front, self.back, a, arb_last, window, wrel, h.q_ready,
                np.ascontiguousarray(g.get("k", _EMPTY)), np.ascontiguousarray(g.get("v", _EMPTY)),
                arrays,
            )  # fmt: skip
            end = max(end, rmax)
            before = self._jobs_done
            self._jobs_done += int(n.size)
            if self._progress is not None and before // 2048 != self._jobs_done // 2048:
                self._report_progress()
            retired.append(retire)
        self._occ = len(wrel)
        self._arb_last = arb_last
        last = heads[-1].last_job + 1
        for j in range(heads[0].first_job, last):
            self._eligible[j] = 0
        self._next_new = self._back_next = last
        self._layer_left[li] = 0
        self._layer_end[li] = end
        return end

    # ------------------------------------------------------------------ generation, fast
    def _generation_fast_ok(self, li: int) -> bool:
        """A layer of generation heads the fast path may time without events
        (:mod:`spatten_sim.hw.generation`): the fast mode, no timeline, the fused HBM2 fetch path,
        the machine drained (nothing in flight, no arbiter wake-up pending), every head one
        query, each fetch list ascending (else the fetcher's reference path sorts it)."""
        if self.cfg.timing.mode != "fast" or self.timeline is not None:
            return False
        if self._pending or self._back_busy or self._arb_wake < _INF:
            return False
        heads = self.heads[li]
        if not heads or not (self._back_next == self._next_new == heads[0].first_job):
            return False
        dram = self.fetcher._dram
        if dram is None or dram.fused_state(self.fetcher._xbar) is None:
            return False
        for h in heads:
            hj = h.hj
            if hj.stage != "generation" or hj.n_queries != 1:
                return False
            for rows in (hj.k_msb_fetch, hj.k_lsb_fetch, hj.q_lsb_fetch, hj.v_fetch,
                         hj.v_lsb_fetch):  # fmt: skip
                if rows.size > 1 and not bool((rows[1:] > rows[:-1]).all()):
                    return False
        return True

    def _generation_layer(self, li: int, t0: int) -> int:
        """Time a layer of generation heads without events; returns its end cycle.

        :func:`spatten_sim.hw.generation.generation_layer` runs the arbiter and the back chain
        of the layer's jobs with the same decisions, fetches and recurrences as the event path;
        its log of fetches, passes and back chain runs is booked here in its order, with the
        same calls as the event path (so even the order in which action counters first appear
        is the same). ``tests/test_timing_modes.py`` checks that the reports equal the event
        path's (``timing.mode: reference``) exactly.
        """
        heads = self.heads[li]
        pipe, bufs, lay, fetcher = self.pipe, self.bufs, self.layout, self.fetcher
        dram = fetcher._dram
        assert dram is not None
        st = dram.fused_state(fetcher._xbar)
        assert st is not None
        J = len(heads)
        hjs = [h.hj for h in heads]
        ln = np.array([max(1, int(hj.keys_per_query[0])) for hj in hjs], np.int64)
        lm = np.array([max(1, int(hj.v_kept[0])) for hj in hjs], np.int64)
        req = np.array([bool(hj.requant[0]) for hj in hjs], np.uint8)
        cyc = np.array([int(hj.local_topk_cycles[0]) for hj in hjs], np.int64)
        select = np.asarray(pipe.topk.is_select(ln, lm, cyc), np.bool_)
        extra = np.where(select, pipe.topk.extra_rounds(ln, cyc), 0).astype(np.int64)
        kneed = np.array([bufs.key_bytes(hj.k_msb_fetch.size, hj.head_dim) for hj in hjs],
                         np.int64)  # fmt: skip
        vneed = np.array([bufs.value_bytes(hj.v_fetch.size, hj.head_dim) for hj in hjs],
                         np.int64)  # fmt: skip
        qlsb_pos = np.full(J, -1, np.int64)
        groups: dict[int, int] = {}
        gid = np.array([groups.setdefault(hj.kv_head, len(groups)) for hj in hjs], np.int64)
        # the parts of each job's three fetches, in the event path's order
        streams: list[str] = []
        base_l: list[int] = []
        bits_l: list[int] = []
        row_l: list[np.ndarray] = []
        fparts = np.zeros(3 * J + 1, np.int64)
        word = lay.head_dim
        tx_bits = 8 * fetcher.tx
        bound = 0

        def part(stream: str, layer: int, head: int, rows: np.ndarray, bits: int) -> None:
            nonlocal bound
            streams.append(stream)
            base_l.append(lay.base(stream, layer, head))
            rb = word * bits if bits > 0 else 0
            bits_l.append(rb)
            row_l.append(rows)
            bound += rows.size * (rb // tx_bits + 2)

        for j, hj in enumerate(hjs):
            b = hj.bits
            fparts[3 * j] = len(streams)
            part("q", hj.layer, hj.head, hj.q_fetch[0:1], b.q_msb)
            if hj.k_msb_fetch.size:
                part("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, b.k_msb)
            fparts[3 * j + 1] = len(streams)
            if req[j]:
                part("k_lsb", hj.layer, hj.kv_head, hj.k_lsb_fetch, b.k_lsb)
                if hj.q_lsb_fetch.size:
                    part("q_lsb", hj.layer, hj.head, hj.q_lsb_fetch, b.q_lsb)
                    token = int(hj.query_ids[0])
                    pos = int(np.searchsorted(hj.q_lsb_fetch, token))
                    if pos < hj.q_lsb_fetch.size and int(hj.q_lsb_fetch[pos]) == token:
                        qlsb_pos[j] = pos
            fparts[3 * j + 2] = len(streams)
            if hj.v_fetch.size or hj.v_lsb_fetch.size:
                part("v", hj.layer, hj.kv_head, hj.v_fetch, b.v_msb)
                if hj.v_lsb_fetch.size:
                    part("v_lsb", hj.layer, hj.kv_head, hj.v_lsb_fetch, b.v_lsb)
        fparts[3 * J] = len(streams)
        part_rows = np.zeros(len(row_l) + 1, np.int64)
        np.cumsum([r.size for r in row_l], out=part_rows[1:])
        rows = np.concatenate(row_l, dtype=np.int64)
        # the arbiter's and the buffers' state, in and out
        cap = 2 * J + 4
        wrel = np.zeros(len(self._wrel) + cap, np.int64)
        wrel[: len(self._wrel)] = self._wrel
        krel_t = np.zeros(len(self._krel) + cap, np.int64)
        krel_b = np.zeros_like(krel_t)
        for i, (rt, nb) in enumerate(self._krel):
            krel_t[i], krel_b[i] = rt, nb
        vrel_t = np.zeros(len(self._vrel) + cap, np.int64)
        vrel_b = np.zeros_like(vrel_t)
        for i, (rt, nb) in enumerate(self._vrel):
            vrel_t[i], vrel_b[i] = rt, nb
        st_i = np.array([self._arb_last, self._occ, self._kused, self._vused], np.int64)
        lens = np.array([len(self._wrel), len(self._krel), len(self._vrel)], np.int64)
        fs = np.array([fetcher.free_at], np.int64)
        fetches = np.zeros((3 * J, len(FETCH_FIELDS)), np.int64)
        elog = np.zeros((6 * J, 3), np.int64)
        retire = np.zeros(J, np.int64)
        fr, bk = self.front, self.back
        c0 = time.process_time()
        n_log = generation_layer(
            np.int64(t0), ln, lm, req, select.astype(np.uint8), extra, kneed, vneed,
            qlsb_pos, gid, np.int64(len(groups)), fparts, np.array(base_l, np.int64), np.array(bits_l, np.int64), part_rows,
            rows, st_i, np.int64(bufs.window), np.int64(bufs.key_capacity),
            np.int64(bufs.value_capacity), wrel, krel_t, krel_b, vrel_t, vrel_b, lens, fs,
            np.int64(fetcher.tx), np.int64(fetcher.per_cycle), np.int64(fetcher.conv_latency),
            dram.no_writes(bound), fr.rate, fr.depth, fr.cap, fr.gate, fr.capjob, fr.hist,
            fr.idx, fr.busy, fr.stall, fr.last, fr.acc, fr._no_record, np.int64(bk.rate),
            np.int64(bk.cap), np.int64(bk.pv_rate), np.int64(bk.pv_depth), bk.ghist,
            bk.pvhist, bk.st, bk.cnt, bk._no_record, *st, fetches, elog, retire,
        )  # fmt: skip
        cpu = time.process_time() - c0
        if n_log < 0:
            if n_log == -1002:
                raise ValueError(
                    f"addresses must be non-negative and aligned to {dram.cfg.request_bytes} B"
                )
            raise AssertionError(f"generation layer {li}: fast path failed ({n_log})")
        # book what the layer did, in its order, as the event path does
        acts = self.actions
        tx = fetcher.tx
        by_stream = fetcher.bytes_by_stream
        rec = fetches.tolist()
        for kind, idx, final in elog[:n_log].tolist():
            if kind == LOG_FETCH:
                j, fk, n, issue, last, tx0, tx1 = rec[idx]
                hj = hjs[j]
                if n > 0:
                    dram.fused_done(last, 0.0)
                    p0 = int(fparts[3 * j + fk])
                    by_stream[streams[p0]] += tx0 * tx
                    if int(fparts[3 * j + fk + 1]) - p0 > 1:
                        by_stream[streams[p0 + 1]] += tx1 * tx
                    fetcher._account(n, issue, acts)
                    self._layer_bytes[li] += n * tx
                if fk == 0:
                    fetcher.count_sram_write(acts, "key_sram", hj.k_msb_fetch.size)
                elif fk == 2:
                    fetcher.count_sram_write(acts, "value_sram", hj.v_fetch.size)
            elif kind == LOG_PASS:
                n = int(ln[idx])
                pipe.qxk.count(acts, n)
                pipe.softmax.count(acts, n)
                pipe.decision.count(acts, n)
                if final:
                    acc_unit.count(acts, n)
            else:
                c = int(cyc[idx])
                if select[idx] and c > 0:
                    pipe.topk.count(acts, "topk_local_v", c)
                pipe.probxv.count(acts, int(lm[idx]))
        dram.kernel_cpu_seconds += cpu  # the layer's call: the DRAM kernel and the chains
        fetcher.free_at = int(fs[0])
        self._arb_last, self._occ, self._kused, self._vused = (int(x) for x in st_i)
        nw, nk, nv = (int(x) for x in lens)
        self._wrel = wrel[:nw].tolist()
        self._krel = list(zip(krel_t[:nk].tolist(), krel_b[:nk].tolist(), strict=True))
        self._vrel = list(zip(vrel_t[:nv].tolist(), vrel_b[:nv].tolist(), strict=True))
        first, last_job = heads[0].first_job, heads[-1].last_job + 1
        for j in range(first, last_job):
            self._eligible[j] = t0
        self._next_new = self._back_next = last_job
        self._layer_left[li] = 0
        end = int(retire.max())
        self._layer_end[li] = end
        before = self._jobs_done
        self._jobs_done += J
        if self._progress is not None and before // 2048 != self._jobs_done // 2048:
            self._report_progress()
        return end

    def _wait_layer(self, li: int):
        while li not in self._layer_end:
            self._layer_done = self.env.event()
            yield self._layer_done

    def _acquire(self, h: _Head, now: int | None = None) -> None:
        """Slot acquisition (summarization): the head's batch fetch; its jobs become eligible."""
        now = int(self.env.now) if now is None else now
        hj = h.hj
        g = self._groups[h.key]
        parts = [("q", hj.layer, hj.head, hj.q_fetch, hj.bits.q_msb)]
        if "s_rows" not in g and (hj.k_msb_fetch.size or hj.v_fetch.size):
            g["s_rows"] = np.union1d(hj.k_msb_fetch, hj.v_fetch).astype(np.int32)
        if h.split:
            self.heads_split += 1
        else:
            parts.append(("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, hj.bits.k_msb))
            parts.append(("v", hj.layer, hj.kv_head, hj.v_fetch, hj.bits.v_msb))
        ready = self._fetch(h.li, parts, now)
        h.q_ready = ready[0]
        if not h.split:
            if hj.k_msb_fetch.size and "k" not in g:
                g["k"] = ready[1]
            if hj.v_fetch.size and "v" not in g:
                g["v"] = ready[2]
            self.fetcher.count_sram_write(self.actions, "key_sram", hj.k_msb_fetch.size)
            self.fetcher.count_sram_write(self.actions, "value_sram", hj.v_fetch.size)
        for j in range(h.first_job, h.last_job + 1):
            self._eligible[j] = now

    # ------------------------------------------------------------------ arbiter
    def _poke(self) -> None:
        """New jobs became eligible: make sure the arbiter looks at them in this cycle."""
        now = int(self.env.now)
        self._wake_arbiter(max(now, self._arb_last + 1))

    def _wake_arbiter(self, t: int) -> None:
        if t >= self._arb_wake:
            return
        self._arb_wake = t
        self._arb_token += 1
        tok = self._arb_token
        self._at(t, _ARBITER, lambda: self._arbiter(tok))

    @staticmethod
    def _release_until(releases: list[tuple[int, int]], t: int) -> int:
        """Pop the (cycle, bytes) releases due at or before ``t``; returns the bytes freed."""
        freed = 0
        while releases and releases[0][0] <= t:
            freed += releases.pop(0)[1]
        return freed

    def _apply_releases(self, t: int) -> None:
        w = self._wrel
        while w and w[0] <= t:
            w.pop(0)
            self._occ -= 1
        self._kused -= self._release_until(self._krel, t)

    def _new_need(self, job: _Job) -> int:
        """Key-buffer bytes a new job allocates at arbitration (and, split, its rows)."""
        h = job.head
        hj = h.hj
        if hj.stage == "generation":
            if job.qi == 0 and hj.k_msb_fetch.size:
                return self.bufs.key_bytes(hj.k_msb_fetch.size, hj.head_dim)
            return 0
        if h.split:
            s = self._groups[h.key].get("s_rows", _EMPTY)
            return self.bufs.key_bytes(min(s.size, job.n), hj.head_dim)
        return 0

    def _arbiter(self, token: int) -> None:
        if token != self._arb_token:
            return
        t = int(self.env.now)
        self._arb_wake = _INF
        self._apply_releases(t)
        if self._pending and self._pending[0][0] <= t:
            _, j = self._pending.pop(0)
            self._arbitrate(self.jobs[j], t, redo=True)
            self._arb_last = t
            self._wake_next(t + 1)
            return
        nxt = self._next_new
        if nxt < len(self.jobs) and self._eligible[nxt] >= 0:
            job = self.jobs[nxt]
            need = self._new_need(job)
            if self._feasible_from(t, need) <= t:
                self._next_new += 1
                job.kbytes = need
                self._kused += need
                self._arbitrate(job, t, redo=False)
                self._arb_last = t
        self._wake_next(t + 1)

    def _wake_next(self, t: int) -> None:
        """Wake the arbiter at the first cycle >= ``t`` at which, by what is known now, it can
        admit a request (a redo's report, or the window and key buffer admitting the next new
        job). Anything that changes this later (jobs becoming eligible) pokes the arbiter, so no
        cycle in between would admit one: skipping them changes nothing."""
        cands: list[int] = []
        if self._pending:
            cands.append(self._pending[0][0])
        nxt = self._next_new
        if nxt < len(self.jobs) and self._eligible[nxt] >= 0:
            cands.append(self._feasible_from(t, self._new_need(self.jobs[nxt])))
        if cands:
            nxt_t = min(cands)
            if nxt_t < _INF:
                self._wake_arbiter(max(nxt_t, t))

    def _feasible_from(self, t: int, need: int) -> int:
        """First cycle >= t at which the window and the key buffer admit a new job (by the
        releases known now; _INF if none is known that would)."""
        w = self.bufs.window
        t_w = t
        k = self._occ - w + 1
        if k > 0:
            t_w = self._wrel[k - 1] if k <= len(self._wrel) else _INF
        t_k = t
        free = self.bufs.key_capacity - self._kused
        if need > free:
            t_k = _INF
            for rt, b in self._krel:
                free += b
                if need <= free:
                    t_k = rt
                    break
        return max(t_w, t_k)

    def _arbitrate(self, job: _Job, t: int, redo: bool) -> None:
        h = job.head
        hj = h.hj
        g = self._groups[h.key]
        self._occ += 1
        base = t + 1
        if not redo:
            if hj.stage == "generation":
                parts = [("q", hj.layer, hj.head, hj.q_fetch[job.qi : job.qi + 1], hj.bits.q_msb)]
                kpart = job.qi == 0 and hj.k_msb_fetch.size > 0
                if kpart:
                    parts.append(("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, hj.bits.k_msb))
                ready = self._fetch(h.li, parts)
                base = max(base, self._row(ready[0], 0, base))
                if kpart:
                    self.fetcher.count_sram_write(self.actions, "key_sram", hj.k_msb_fetch.size)
                    if "k" not in g:
                        g["k"] = ready[1]
                # the job's own K rows if it fetched any, else the group's
                kready = ready[1] if kpart else g.get("k", _EMPTY)
            else:
                base = max(base, self._row(h.q_ready, job.qi, base))
                if h.split:
                    s = g.get("s_rows", np.zeros(0, np.int32))
                    job.k_rows = s[: job.n]
                    ready = self._fetch(
                        h.li, [("k_msb", hj.layer, hj.kv_head, job.k_rows, hj.bits.k_msb)]
                    )
                    self.fetcher.count_sram_write(self.actions, "key_sram", job.k_rows.size)
                    kready = ready[0]
                else:
                    kready = g.get("k", _EMPTY)
        else:
            base = max(base, self._row(h.q_ready, job.qi, base) if h.q_ready.size else base)
            own: np.ndarray | None = None
            if hj.stage == "summarization" and not h.split and h.lsb_done:
                own = h.lsb  # a later redo of the head: its LSB fetch is on chip
            else:
                h.lsb_done = True
                parts = [("k_lsb", hj.layer, hj.kv_head, hj.k_lsb_fetch, hj.bits.k_lsb)]
                if hj.q_lsb_fetch.size:
                    parts.append(("q_lsb", hj.layer, hj.head, hj.q_lsb_fetch, hj.bits.q_lsb))
                ready = self._fetch(h.li, parts)
                if hj.q_lsb_fetch.size:
                    h.qlsb = ready[1]
                if hj.k_lsb_fetch.size:
                    own = ready[0]
                    h.lsb = own
                    if "lsb" not in g:
                        g["lsb"] = own
            if h.qlsb is not None and h.qlsb.size:
                # the Q LSB row of this job's own query (its token id in the list), if listed
                token = int(hj.query_ids[job.qi])
                pos = int(np.searchsorted(hj.q_lsb_fetch, token))
                if pos < hj.q_lsb_fetch.size and int(hj.q_lsb_fetch[pos]) == token:
                    base = max(base, int(h.qlsb[pos]))
            kready = own if own is not None else g.get("lsb", _EMPTY)
        final = redo or not job.requant
        n = job.n
        self.pipe.qxk.count(self.actions, n)
        self.pipe.softmax.count(self.actions, n)
        self.pipe.decision.count(self.actions, n)
        if final:
            acc_unit.count(self.actions, n)
        rec = self.timeline is not None
        report, out = self.front.run(np.ascontiguousarray(kready), base, n, final, rec)
        if rec:
            for k, st in enumerate(self.front.stages):
                self._record(st.unit, self.front.takes[k])
            if final:
                self._record("importance_accumulators", self.front.takes[-1], stall=False)
        insort(self._wrel, report)
        if final:
            if job.kbytes:
                insort(self._krel, (report, job.kbytes))
            job.a = out
            self._back_kick()
        else:
            insort(self._pending, (report, job.idx))

    # ------------------------------------------------------------------ back chain
    def _back_kick(self) -> None:
        """Run the back chain over every decided job in program order, as far as it can go."""
        if self._back_busy:
            return
        while self._back_next < len(self.jobs):
            job = self.jobs[self._back_next]
            if job.a is None:
                return
            hj = job.head.hj
            g0 = self.back.first_emit(job.a, job.n, job.select, job.extra)
            if hj.stage == "generation" or job.head.split:
                vrows = self._v_rows(job)
                need = self.bufs.value_bytes(vrows.size, hj.head_dim)
                alpha = self._v_alloc_time(g0, need)
                vlsb = not job.head.split and job.qi == 0 and hj.v_lsb_fetch.size > 0
                if vrows.size or need or vlsb:
                    self._back_busy = True
                    self._at(alpha, _VALLOC, partial(self._v_go, job, alpha, vrows, need))
                    return
                self._back_run(job, alpha, 0)
            else:
                self._back_run(job, 0, 0)

    def _v_rows(self, job: _Job) -> np.ndarray:
        hj = job.head.hj
        if job.head.split:
            return job.k_rows
        return hj.v_fetch if job.qi == 0 else np.zeros(0, np.int32)

    def _v_alloc_time(self, g0: int, need: int) -> int:
        self._vused -= self._release_until(self._vrel, g0)
        free = self.bufs.value_capacity - self._vused
        if need <= free:
            return g0
        for rt, b in self._vrel:
            free += b
            if need <= free:
                return rt
        raise AssertionError("value buffer: allocation can never succeed")  # pragma: no cover

    def _v_go(self, job: _Job, alpha: int, vrows: np.ndarray, need: int) -> None:
        """V buffer allocated at ``alpha``: fetch the job's V rows, then run its back chain."""
        h = job.head
        hj = h.hj
        self._vused += need - self._release_until(self._vrel, alpha)
        vready = None
        vlsb = not h.split and job.qi == 0 and hj.v_lsb_fetch.size > 0
        if vrows.size or vlsb:
            parts = [("v", hj.layer, hj.kv_head, vrows, hj.bits.v_msb)]
            if vlsb:
                parts.append(("v_lsb", hj.layer, hj.kv_head, hj.v_lsb_fetch, hj.bits.v_lsb))
            ready = self._fetch(h.li, parts)
            self.fetcher.count_sram_write(self.actions, "value_sram", vrows.size)
            if vrows.size:
                vready = ready[0]
                if not h.split and "v" not in self._groups[h.key]:
                    self._groups[h.key]["v"] = vready
        self._back_busy = False
        self._back_run(job, alpha, need, vready)
        self._back_kick()

    def _back_run(
        self, job: _Job, alpha: int, vbytes: int, vready: np.ndarray | None = None
    ) -> None:
        h = job.head
        if vready is None:
            vready = self._groups[h.key].get("v", _EMPTY)
        vall = h.hj.stage == "summarization" and not h.split and job.select
        if job.select and job.topk_cycles > 0:
            self.pipe.topk.count(self.actions, "topk_local_v", job.topk_cycles)
        self.pipe.probxv.count(self.actions, job.m)
        rec = self.timeline is not None
        assert job.a is not None  # decided (the back chain takes decided jobs only)
        retire = self.back.run(
            job.a, job.n, job.m, job.select, job.extra, alpha,
            np.ascontiguousarray(vready), 0, vall, rec,
        )  # fmt: skip
        if rec:
            if job.select:
                f = self.back.fill
                rounds = np.arange(f[-1] + 1, f[-1] + 1 + job.extra, dtype=np.int64)
                self._record("topk_local_v", np.concatenate((f, rounds, self.back.takes[0])))
            self._record("probxv", self.back.takes[1])
        if vbytes:
            insort(self._vrel, (retire, vbytes))
        job.a = None  # free the per-element array
        self._back_next += 1
        self._at(retire, _RELEASE, lambda: self._retire(job, retire))

    def _retire(self, job: _Job, t: int) -> None:
        h = job.head
        if job.idx == h.last_job and h.hj.stage == "summarization":
            self._slots_free += 1
            if self._seq_waiting is not None and not self._seq_waiting.triggered:
                self._seq_waiting.succeed()
        li = h.li
        self._layer_left[li] -= 1
        if self._layer_left[li] == 0:
            self._layer_end[li] = t
            ev = self._layer_done
            if ev is not None and not ev.triggered:
                ev.succeed()
        self._jobs_done += 1
        if self._progress is not None and not self._jobs_done % 2048:
            self._report_progress()

    def _report_progress(self) -> None:
        now = time.perf_counter()
        if now - self._t_last < PROGRESS_INTERVAL_S:
            return
        self._t_last = now
        done, total = self._jobs_done, max(1, len(self.jobs))
        elapsed = now - self._t_start
        left = elapsed * (total - done) / done
        assert self._progress is not None  # the callers report only with a progress callback
        self._progress(
            f"timing phase: {done:,}/{total:,} query jobs ({100 * done / total:.0f} %), "
            f"{int(self.env.now):,} cycles simulated, {elapsed:.0f} s elapsed, ~{left:.0f} s left"
        )

    # ------------------------------------------------------------------ run
    def run(self) -> TimingResult:
        env = self.env
        self.cycles = 0
        seq = env.process(self._sequencer())
        env.run(until=seq)
        assert self._back_next == len(self.jobs), "timing phase: jobs left in the pipeline"
        busy = dict.fromkeys(UNITS, 0)
        stall = dict.fromkeys(UNITS, 0)
        seen: set[str] = set()
        for k, st in enumerate(self.front.stages):
            if st.unit in seen:
                continue
            seen.add(st.unit)
            busy[st.unit] = int(self.front.busy[k])
            stall[st.unit] = int(self.front.stall[k])
        busy["importance_accumulators"] = int(self.front.acc[0])
        c = self.back.cnt
        busy["topk_local_v"], stall["topk_local_v"] = int(c[0]), int(c[1])
        busy["probxv"], stall["probxv"] = int(c[2]), int(c[3])
        busy["fetcher"] = int(self.fetcher.busy_cycles)
        busy["bitwidth_converter"] = int(self.fetcher.converter_busy_cycles)
        busy["topk_token_head"] = int(self._topk_busy)
        layers = [
            layer_record(
                lj,
                self._layer_start.get(li, 0),
                self._layer_end.get(li, 0),
                self._layer_bytes.get(li, 0),
            )
            for li, lj in enumerate(self.wl.layers)
        ]
        mstats = self.mem.stats()
        actions = {u: dict(a) for u, a in self.actions.items()}
        actions["dram"] = dram_actions(mstats)
        return TimingResult(
            cycles=int(self.cycles),
            busy_cycles=busy,
            stall_cycles=stall,
            actions=actions,
            params=_params(self.cfg, self.mem, self.fetcher.line_bytes),
            bytes_by_stream=dict(self.fetcher.bytes_by_stream),
            transactions=int(self.fetcher.transactions),
            layers=tuple(layers),
            heads_split=self.heads_split,
            memory_stats=mstats,
            timeline=tuple(self.timeline) if self.timeline is not None else None,
            events=self.events,
        )


def _params(cfg: HwConfig, mem: MemoryModel, line_bytes: float) -> dict[str, dict[str, float]]:
    """Per-unit parameters the energy table scales with (SRAM sizes, FIFO depths)."""
    topk = {"comparators": cfg.topk.comparators, "fifo_depth": cfg.topk.fifo_depth}
    return {
        "fetcher": {
            "address_fifo_depth": cfg.fetcher.address_fifo_depth,
            "data_fifo_depth": cfg.fetcher.data_fifo_depth,
            "channels": mem.n_channels,
        },
        "qxk": {"word_bits": cfg.buffers.word_bits},
        "probxv": {"word_bits": cfg.buffers.word_bits},
        "key_sram": {"capacity_bytes": cfg.buffers.key_sram_bytes, "line_bytes": line_bytes},
        "value_sram": {
            "capacity_bytes": cfg.buffers.value_sram_bytes,
            "line_bytes": cfg.probxv.multipliers * cfg.buffers.word_bits / 8,
        },
        "softmax": {"fifo_depth": cfg.softmax.fifo_depth},
        "topk_local_v": dict(topk),
        "topk_token_head": dict(topk),
        "dram": {"channels": mem.n_channels},
    }


def run_timing(
    cfg: HwConfig,
    workload: Workload,
    memory: MemoryModel,
    record_timeline: bool = False,
    progress: Callable[[str], None] | None = None,
) -> TimingResult:
    """Simulate ``workload`` on the accelerator described by ``cfg`` with ``memory``.

    ``progress`` receives a line every few seconds of wall time while a long run goes on."""
    return Accelerator(cfg, workload, memory, record_timeline, progress).run()
