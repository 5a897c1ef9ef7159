"""The cycle-stepped reference timing model: the slow, simple reading of docs/timing-model.md.

This module exists to be checked by reading, and to prove the production model
(:mod:`spatten_sim.hw.accelerator`) right on small workloads: both follow the same contract
(docs/timing-model.md, cited below as §N) and must agree cycle for cycle. It shares with the
production model only the unit figures (:mod:`spatten_sim.hw.units`), the :class:`Fetcher`,
the address layout and the memory model; everything else is written out here, plainly.

How to read it
--------------
:func:`run_reference` builds a :class:`ReferenceModel` and calls :meth:`ReferenceModel.run`: a
loop over cycles ``t = 0, 1, 2, ...`` that does, every cycle, the phases of §5's last bullet in
order (one method each):

1. :meth:`~ReferenceModel._releases`: decision reports and retires due at ``t`` (request window,
   key buffer, pending redos, value buffer, head slots, layer ends);
2. + 3. :meth:`~ReferenceModel._layers_and_slots`: layer starts, head-slot acquisitions (and
   their batch fetches);
4. :meth:`~ReferenceModel._arbiter`: at most one request (a pending redo first, else the next new
   job if eligible) enters the front chain, and its fetch is submitted;
5. the datapath, from the last stage to the first: :meth:`~ReferenceModel._step_probxv`,
   :meth:`~ReferenceModel._step_topk` (emit, then fill), then the front chain's stages
   (decision, softmax stage(s), QxK) in :meth:`~ReferenceModel._step_front`.

Elements are not Python objects: every queue holds *runs* ``[cycle, pass or job, count]`` of
consecutive elements of one pass (or job) that became available at the same cycle. The rules are
still per element (§2): a stage takes, in order, up to ``rate`` elements whose data are ready,
for which there is room (taken by this stage and not yet taken by the next < ``cap``) and whose
gates are open, and stops at the first element that is not. Stepping the stages from last to
first makes room freed in a cycle visible to the producer in the same cycle.

Busy and stall (§8) are counted per cycle and per stage: busy if the stage took an element (or,
for the top-k engine in select mode, is in its extra rounds), else stall if it is inside a job
(first element taken, last not yet), else idle.

No idle stretch is skipped: every cycle is stepped. Use it on small workloads only.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatten_sim.config import HwConfig
from spatten_sim.hw.layout import AddressLayout
from spatten_sim.hw.memory import MemoryModel
from spatten_sim.hw.result import TimingResult, dram_actions, layer_record
from spatten_sim.hw.units import UNITS, Stage, accumulators, build_pipeline
from spatten_sim.hw.units.fetcher import Fetcher, FetchResult, Part
from spatten_sim.workload import HeadJob, LayerJob, TopkCall, Workload

#: kinds of heads (§5): a summarization head in a slot, a split summarization head, generation
SLOT, SPLIT, GENERATION = "slot", "split", "generation"

#: cycles without any progress after which the model reports a deadlock (a bug, not a workload)
_DEADLOCK_CYCLES = 1_000_000

_EMPTY = np.zeros(0, np.int32)


def _cycles(call: TopkCall | None) -> int:
    """Cycles of a token/head top-k call; an absent call costs 0 (§7)."""
    return int(call.cycles) if call is not None else 0


def _row(ready: np.ndarray | None, i: int, default: int) -> int:
    """Ready cycle of row ``min(i, len-1)`` of a list; an empty (or absent) list is ready at
    ``default`` (the job's arbitration, §10)."""
    if ready is None or ready.size == 0:
        return default
    return int(ready[min(i, ready.size - 1)])


def _rows(ready: np.ndarray | None, count: int, default: int) -> np.ndarray:
    """``_row(ready, i, default)`` for ``i = 0 .. count-1`` (int64)."""
    if ready is None or ready.size == 0:
        return np.full(count, default, np.int64)
    return ready[np.minimum(np.arange(count), ready.size - 1)].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the state of the workload's pieces
@dataclass
class Group:
    """Record of one K/V group ``(layer, kv_head, iteration)`` (§10): the ready cycles of the
    first fetch that brought each list; later heads of the group use them."""

    k_ready: np.ndarray | None = None
    v_ready: np.ndarray | None = None
    k_lsb_ready: np.ndarray | None = None


@dataclass(eq=False)
class Layer:
    lj: LayerJob
    index: int
    jobs: list[Job] = field(default_factory=list)
    slot_heads: list[Head] = field(default_factory=list)  #: summarization heads with jobs
    start: int | None = None  #: start(L) once known (§7)
    started: bool = False
    end: int | None = None
    dram_bytes: int = 0


@dataclass(eq=False)
class Head:
    hj: HeadJob
    layer: Layer
    kind: str  #: SLOT, SPLIT or GENERATION
    group: Group
    split_rows: np.ndarray  #: S, the group's surviving rows (split heads, §10)
    jobs: list[Job] = field(default_factory=list)
    slot_cycle: int | None = None  #: cycle the head acquired its slot (summarization)
    q_ready: np.ndarray | None = None  #: the slot fetch's Q rows
    q_lsb_ready: np.ndarray | None = None  #: the last LSB fetch's Q LSB rows
    k_lsb_own: np.ndarray | None = None  #: the head's own K LSB rows, once fetched
    lsb_fetched: bool = False  #: summarization: the head's first redo has fetched its LSBs


@dataclass(eq=False)
class Job:
    """One query of one head (§1), in program order."""

    index: int
    head: Head
    qi: int
    n: int  #: scores (QxK, softmax, decision, top-k fill): max(1, keys_per_query)
    m: int  #: kept V rows (top-k emit, probxV): max(1, v_kept)
    requant: bool
    topk_cycles: int
    select: bool  #: the top-k engine selects (else the elements pass through)
    extra: int  #: top-k rounds after the fill (select mode)
    key_bytes: int  #: key buffer bytes allocated at arbitration (generation and split)
    value_bytes: int  #: value buffer bytes allocated before the first emit (generation, split)
    arb: int = -1  #: arbitration cycle of the first pass
    q_ready: int = 0  #: the Q (MSB) row's ready cycle
    #: the final pass's elements out of the decision unit: runs [available cycle, count]
    dec_out: deque[list[int]] = field(default_factory=deque)
    fill_taken: int = 0
    fill_last: int = -1
    out_taken: int = 0  #: elements emitted (select) or passed (pass mode) to probxV
    v_allocated: bool = False
    v_ready: list[int] | None = None  #: probxV source of each of the m elements
    pv_taken: int = 0

    @property
    def layer(self) -> Layer:
        return self.head.layer


@dataclass(eq=False)
class Pass:
    """One pass of a job through the front chain (§1): the first (MSB), or a redo."""

    job: Job
    redo: bool
    final: bool
    arb: int
    src: list[int]  #: QxK source cycle of each element (Q row and K row ready, §3)
    taken: list[int]  #: elements taken by each front stage
    last_avail: list[int | None]  #: per front stage: last element's take + depth

    @property
    def n(self) -> int:
        return self.job.n


@dataclass(eq=False)
class FrontStage:
    """A stage of the front chain (QxK, softmax stage(s), decision) and its counters."""

    spec: Stage
    next_is_barrier: bool  #: the next stage has a gate: the buffer holds at least a whole job
    #: elements taken here and not yet taken by the next stage: runs [available, pass, count]
    out: deque[list[Any]] = field(default_factory=deque)
    held: int = 0  #: their number
    open_pass: Pass | None = None  #: a pass with its first element taken and its last not yet
    busy: int = 0
    stall: int = 0

    def cap_for(self, p: Pass) -> int:
        """Room towards the next stage for an element of ``p`` (§2, barrier gates)."""
        cap = self.spec.cap
        return max(cap, p.n) if self.next_is_barrier else cap


# ---------------------------------------------------------------------------------------------
class ReferenceModel:
    """The cycle-stepped model of one run (docs/timing-model.md)."""

    def __init__(self, cfg: HwConfig, wl: Workload, memory: MemoryModel) -> None:
        self.cfg = cfg
        self.wl = wl
        self.memory = memory
        self.head_dim = wl.head_dim
        self.layout = AddressLayout.for_workload(
            wl, cfg.buffers.word_bits, memory.transaction_bytes
        )
        self.pipe = build_pipeline(cfg, wl.head_dim)
        self.fetcher = Fetcher(cfg, self.layout, memory, wl.head_dim)
        self.actions: defaultdict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self.barrier = cfg.timing.layer_barrier
        buf = self.pipe.buffers

        # the workload, in program order
        self.layers: list[Layer] = []
        self.jobs: list[Job] = []
        self.slot_heads: list[Head] = []
        self.heads_split = 0
        groups: dict[tuple[int, int, int], Group] = {}
        group_rows: dict[tuple[int, int, int], np.ndarray] = {}  #: S of each group (§10)
        for hj in wl.head_jobs():
            rows = np.union1d(hj.k_msb_fetch, hj.v_fetch).astype(np.int32)
            if rows.size:
                group_rows.setdefault((hj.layer, hj.kv_head, hj.iteration), rows)
        for li, lj in enumerate(wl.layers):
            layer = Layer(lj, li)
            self.layers.append(layer)
            for hj in lj.heads:
                key = (hj.layer, hj.kv_head, hj.iteration)
                group = groups.setdefault(key, Group())
                own_rows = np.union1d(hj.k_msb_fetch, hj.v_fetch).astype(np.int32)
                if hj.stage == "generation":
                    kind = GENERATION
                elif buf.is_split(hj):
                    kind = SPLIT
                    self.heads_split += 1
                else:
                    kind = SLOT
                rows = own_rows if own_rows.size else group_rows.get(key, _EMPTY)
                head = Head(hj, layer, kind, group, rows)
                if kind != GENERATION and hj.n_queries > 0:
                    layer.slot_heads.append(head)
                    self.slot_heads.append(head)
                for qi in range(hj.n_queries):
                    job = self._make_job(head, qi)
                    head.jobs.append(job)
                    layer.jobs.append(job)
                    self.jobs.append(job)

        # the datapath
        front = self.pipe.front
        self.front = [
            FrontStage(s, i + 1 < len(front) and front[i + 1].gate >= 0)
            for i, s in enumerate(front)
        ]
        self.qxk_queue: deque[Pass] = deque()  #: arbitrated passes, in arbitration order
        self.qxk_next = 0  #: next element of qxk_queue[0]
        topk = self.pipe.topk
        self.topk_rate: int = topk.rate
        self.topk_depth: int = topk.depth
        self.topk_cap = self.pipe.topk_cap
        self.topk_pos = 0  #: index (program order) of the job in the top-k engine
        self.topk_free_from = 0  #: t_topk_last(previous job) + 1
        self.topk_out: deque[list[Any]] = deque()  #: runs [available, job, count] to probxV
        self.topk_held = 0
        self.topk_busy = 0
        self.topk_stall = 0
        self.pv_rate: int = self.pipe.probxv.rate
        self.pv_depth: int = self.pipe.probxv.depth
        self.pv_open: Job | None = None  #: a job with its first element in probxV, not its last
        self.pv_busy = 0
        self.pv_stall = 0
        self.acc_busy = 0

        # requests and buffers (§5)
        self.next_new = 0  #: index of the next new job to arbitrate
        self.redos: deque[Job] = deque()  #: jobs whose first pass reported a miss
        self.in_flight = 0
        self.window = buf.window
        self.key_free = buf.key_capacity
        self.value_free = buf.value_capacity
        self.free_slots = buf.slots
        self.next_slot_head = 0
        self.events: dict[int, list[tuple[str, Any]]] = defaultdict(list)
        self.next_layer = 0  #: first layer not started yet
        self.layers_ended = 0
        self.last_progress = 0

    def _make_job(self, head: Head, qi: int) -> Job:
        hj = head.hj
        buf = self.pipe.buffers
        n = max(1, int(hj.keys_per_query[qi]))
        m = max(1, int(hj.v_kept[qi]))
        cycles = int(hj.local_topk_cycles[qi])
        select = bool(self.pipe.topk.is_select(n, m, cycles))
        if not select and m != n:
            raise ValueError(
                f"layer {hj.layer} head {hj.head} query {qi}: v_kept ({m}) > keys ({n})"
            )
        key_bytes = value_bytes = 0
        if head.kind == GENERATION and qi == 0:
            key_bytes = buf.key_bytes(hj.k_msb_fetch.size, self.head_dim)
            value_bytes = buf.value_bytes(hj.v_fetch.size, self.head_dim)
        elif head.kind == SPLIT:
            rows = head.split_rows[:n].size
            key_bytes = buf.key_bytes(rows, self.head_dim)
            value_bytes = buf.value_bytes(rows, self.head_dim)
        return Job(
            index=len(self.jobs),
            head=head,
            qi=qi,
            n=n,
            m=m,
            requant=bool(hj.requant[qi]),
            topk_cycles=cycles,
            select=select,
            extra=self.pipe.topk.extra_rounds(n, cycles) if select else 0,
            key_bytes=key_bytes,
            value_bytes=value_bytes,
        )

    # -----------------------------------------------------------------------------------------
    # the loop
    def run(self) -> TimingResult:
        self._plan_layer(0, self._first_start())
        t = 0
        while self.layers_ended < len(self.layers):
            self._releases(t)
            self._layers_and_slots(t)
            self._arbiter(t)
            self._step_probxv(t)
            self._step_topk(t)
            for s in reversed(range(len(self.front))):
                self._step_front(s, t)
            if t - self.last_progress > _DEADLOCK_CYCLES and not self._waiting(t):
                raise RuntimeError(f"reference model: no progress since cycle {self.last_progress}")
            t += 1
        return self._result()

    def _waiting(self, t: int) -> bool:
        """Is something scheduled for a later cycle (an event, a layer start)?"""
        if self.events:
            return True
        if self.next_layer < len(self.layers):
            start = self.layers[self.next_layer].start
            return start is not None and start > t
        return False

    def _first_start(self) -> int:
        return _cycles(self.layers[0].lj.token_topk) if self.layers else 0

    def _plan_layer(self, li: int, start: int) -> None:
        """start(L) is known (§7)."""
        if li < len(self.layers):
            self.layers[li].start = start

    def _fetch(self, t: int, layer: Layer, parts: list[Part]) -> FetchResult:
        """Submit a batch (§6); its DRAM bytes count for ``layer``."""
        res = self.fetcher.submit(t, parts, self.actions)
        layer.dram_bytes += res.transactions * self.memory.transaction_bytes
        return res

    def _line_writes(self, which: str, rows: int) -> None:
        if rows > 0:
            self.fetcher.count_sram_write(self.actions, which, rows)

    # -----------------------------------------------------------------------------------------
    # phase 1: releases and reports due at t
    def _releases(self, t: int) -> None:
        for what, obj in self.events.pop(t, []):
            self.last_progress = t
            if what == "report":  # a pass's decision report (§3, §5)
                p: Pass = obj
                self.in_flight -= 1
                if p.final:
                    self.key_free += p.job.key_bytes
                else:
                    self.redos.append(p.job)
            else:  # "retire": the job's last probxV element is done
                job: Job = obj
                if job.v_allocated:
                    self.value_free += job.value_bytes
                head = job.head
                if head.kind != GENERATION and job is head.jobs[-1]:
                    self.free_slots += 1
                if job is job.layer.jobs[-1]:
                    self._end_layer(job.layer, t)

    def _end_layer(self, layer: Layer, t: int) -> None:
        layer.end = t
        self.layers_ended += 1
        if self.barrier:  # start(L+1) = end(L) + head_topk(L) + token_topk(L+1)
            nxt = layer.index + 1
            if nxt < len(self.layers):
                gap = _cycles(layer.lj.head_topk) + _cycles(self.layers[nxt].lj.token_topk)
                self._plan_layer(nxt, t + gap)

    def _plan_after_slots(self, layer: Layer, x: int) -> None:
        """Without the layer barrier: start(L+1) = max(start(L) + top-k cycles, x) (§7)."""
        nxt = layer.index + 1
        if nxt < len(self.layers):
            gap = _cycles(layer.lj.head_topk) + _cycles(self.layers[nxt].lj.token_topk)
            assert layer.start is not None
            self._plan_layer(nxt, max(layer.start + gap, x))

    # -----------------------------------------------------------------------------------------
    # phases 2 and 3: layer starts, then head-slot acquisitions (repeated while either happens:
    # a layer may start, or a slot head acquire, because of what happened earlier in the cycle)
    def _layers_and_slots(self, t: int) -> None:
        while True:
            if self.next_layer < len(self.layers):
                layer = self.layers[self.next_layer]
                if layer.start is not None and layer.start <= t:
                    self._start_layer(layer, t)
                    continue
            if self.next_slot_head < len(self.slot_heads):
                head = self.slot_heads[self.next_slot_head]
                if head.layer.started and self.free_slots > 0:
                    self._acquire_slot(head, t)
                    continue
            return

    def _start_layer(self, layer: Layer, t: int) -> None:
        self.last_progress = t
        layer.started = True
        self.next_layer += 1
        if not self.barrier and not layer.slot_heads:
            self._plan_after_slots(layer, t)
        if not layer.jobs:
            self._end_layer(layer, t)

    def _acquire_slot(self, head: Head, t: int) -> None:
        """A summarization head takes a slot; its batch fetch is submitted (§5, §10)."""
        self.last_progress = t
        self.free_slots -= 1
        self.next_slot_head += 1
        head.slot_cycle = t
        hj, b = head.hj, head.hj.bits
        parts: list[Part] = [("q", hj.layer, hj.head, hj.q_fetch, b.q_msb)]
        if head.kind == SLOT:
            parts.append(("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, b.k_msb))
            parts.append(("v", hj.layer, hj.kv_head, hj.v_fetch, b.v_msb))
        res = self._fetch(t, head.layer, parts)
        head.q_ready = res.ready[0]
        if head.kind == SLOT:
            g = head.group
            if hj.k_msb_fetch.size and g.k_ready is None:
                g.k_ready = res.ready[1]
            if hj.v_fetch.size and g.v_ready is None:
                g.v_ready = res.ready[2]
            self._line_writes("key_sram", hj.k_msb_fetch.size)
            self._line_writes("value_sram", hj.v_fetch.size)
        if not self.barrier and head is head.layer.slot_heads[-1]:
            self._plan_after_slots(head.layer, t)

    # -----------------------------------------------------------------------------------------
    # phase 4: the arbiter (§5)
    def _arbiter(self, t: int) -> None:
        if self.redos:  # (1) the oldest pending redo: never held back
            self._arbitrate_redo(self.redos.popleft(), t)
            return
        if self.next_new >= len(self.jobs):
            return
        job = self.jobs[self.next_new]  # (2) the next new job, if eligible
        if not job.layer.started:
            return
        if job.head.kind != GENERATION and job.head.slot_cycle is None:
            return
        if self.in_flight >= self.window:
            return
        if job.key_bytes > self.key_free:  # head of line: wait for the key buffer
            return
        self._arbitrate_new(job, t)

    def _enter_front(
        self, job: Job, t: int, redo: bool, q_ready: int, k_ready: np.ndarray | None
    ) -> None:
        """The arbitrated pass occupies the window and enters the front chain."""
        self.last_progress = t
        self.in_flight += 1
        n = job.n
        src = np.maximum(_rows(k_ready, n, t), q_ready).tolist()
        k = len(self.front)
        p = Pass(job, redo, redo or not job.requant, t, src, [0] * k, [None] * k)
        self.qxk_queue.append(p)
        pipe = self.pipe
        pipe.qxk.count(self.actions, n)
        pipe.softmax.count(self.actions, n)
        pipe.decision.count(self.actions, n)
        if p.final:
            accumulators.count(self.actions, n)

    def _arbitrate_new(self, job: Job, t: int) -> None:
        self.next_new += 1
        job.arb = t
        self.key_free -= job.key_bytes
        head, hj, b = job.head, job.head.hj, job.head.hj.bits
        if head.kind == GENERATION:  # request fetch: Q row, and K MSB rows for qi == 0 (§10)
            parts: list[Part] = [("q", hj.layer, hj.head, hj.q_fetch[job.qi : job.qi + 1], b.q_msb)]
            if job.qi == 0:
                parts.append(("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, b.k_msb))
            res = self._fetch(t, head.layer, parts)
            job.q_ready = _row(res.ready[0], 0, t)
            if job.qi == 0:
                if hj.k_msb_fetch.size and head.group.k_ready is None:
                    head.group.k_ready = res.ready[1]
                self._line_writes("key_sram", hj.k_msb_fetch.size)
            # the job's own K rows if it fetched any, else the group's (§10)
            k_ready = res.ready[1] if job.qi == 0 and hj.k_msb_fetch.size else head.group.k_ready
        elif head.kind == SPLIT:  # request fetch: the visible keys S[:n]
            rows = head.split_rows[: job.n]
            res = self._fetch(t, head.layer, [("k_msb", hj.layer, hj.kv_head, rows, b.k_msb)])
            self._line_writes("key_sram", rows.size)
            job.q_ready = _row(head.q_ready, job.qi, t)
            k_ready = res.ready[0]
        else:  # in the head's slot: everything was fetched at acquisition
            job.q_ready = _row(head.q_ready, job.qi, t)
            k_ready = head.group.k_ready
        self._enter_front(job, t, False, job.q_ready, k_ready)

    def _arbitrate_redo(self, job: Job, t: int) -> None:
        head, hj, b = job.head, job.head.hj, job.head.hj.bits
        own_k_lsb: np.ndarray | None = None
        if head.kind != SLOT or not head.lsb_fetched:  # the LSB fetch (§5, §10)
            head.lsb_fetched = True
            parts: list[Part] = [("k_lsb", hj.layer, hj.kv_head, hj.k_lsb_fetch, b.k_lsb)]
            if hj.q_lsb_fetch.size:
                parts.append(("q_lsb", hj.layer, hj.head, hj.q_lsb_fetch, b.q_lsb))
            res = self._fetch(t, head.layer, parts)
            if hj.k_lsb_fetch.size:
                own_k_lsb = res.ready[0]
                head.k_lsb_own = own_k_lsb
                if head.group.k_lsb_ready is None:
                    head.group.k_lsb_ready = own_k_lsb
            if hj.q_lsb_fetch.size:
                head.q_lsb_ready = res.ready[1]
        elif head.k_lsb_own is not None:  # a later redo of a slot head: the head's LSB fetch
            own_k_lsb = head.k_lsb_own
        k_ready = own_k_lsb if own_k_lsb is not None else head.group.k_lsb_ready
        q_ready = job.q_ready
        if head.q_lsb_ready is not None and head.q_lsb_ready.size:
            # the Q LSB row of this job's own query (its token id in the Q LSB list), if listed
            token = int(hj.query_ids[job.qi])
            pos = int(np.searchsorted(hj.q_lsb_fetch, token))
            if pos < hj.q_lsb_fetch.size and int(hj.q_lsb_fetch[pos]) == token:
                q_ready = max(q_ready, int(head.q_lsb_ready[pos]))
        self._enter_front(job, t, True, q_ready, k_ready)

    # -----------------------------------------------------------------------------------------
    # phase 5: the datapath, last stage first
    def _step_probxv(self, t: int) -> None:
        """probxV takes kept elements whose top-k output and V row are ready (§3)."""
        budget = self.pv_rate
        took = 0
        while budget and self.topk_out:
            run = self.topk_out[0]
            avail, job, count = run
            if avail > t:
                break
            k = 0
            assert job.v_ready is not None
            while k < min(budget, count) and job.v_ready[job.pv_taken + k] <= t:
                k += 1
            if k == 0:
                break
            budget -= k
            took += k
            job.pv_taken += k
            self.topk_held -= k
            run[2] -= k
            if run[2] == 0:
                self.topk_out.popleft()
            self.pv_open = job
            if job.pv_taken == job.m:  # retire (§3)
                self.pv_open = None
                self.events[t + self.pv_depth].append(("retire", job))
        if took:
            self.pv_busy += 1
            self.last_progress = t
        elif self.pv_open is not None:
            self.pv_stall += 1

    def _step_topk(self, t: int) -> None:
        """The local-V top-k engine (§3), one job at a time: the current job's emit (or its
        extra rounds), then its fill or pass; when a job hands on its last element, the next
        job is tried in the same cycle (its first element waits for ``t_topk_last + 1``)."""
        busy = False
        inside = False
        while self.topk_pos < len(self.jobs):
            job = self.jobs[self.topk_pos]
            took = 0
            if job.select and job.fill_taken == job.n:  # rounds, then emit
                if t < job.fill_last + 1 + job.extra:
                    busy = True  # an extra round of the quick-select
                else:
                    took = self._hand_on(job, t, job.m, None)
            elif t >= self.topk_free_from:  # the engine is free for this job
                if job.select:  # fill: never blocked by room
                    took = self._take_decided(job, t, min(self.topk_rate, job.n - job.fill_taken))
                    job.fill_taken += took
                    if took and job.fill_taken == job.n:
                        job.fill_last = t
                else:  # pass mode
                    took = self._hand_on(job, t, job.m, job.dec_out)
            if took:
                self.last_progress = t
            if job.select:  # pass-mode jobs do not count for the engine (§8)
                busy = busy or took > 0
                inside = inside or job.fill_taken > 0  # between the fill's first, emit's last
            if self.topk_pos == job.index:  # still on this job
                break
        if busy:
            self.topk_busy += 1
        elif inside:
            self.topk_stall += 1

    def _ready_decided(self, job: Job, t: int) -> int:
        """Elements of ``job``'s final pass out of the decision unit by cycle ``t``."""
        total = 0
        for avail, count in job.dec_out:
            if avail > t:
                break
            total += count
        return total

    def _take_decided(self, job: Job, t: int, limit: int) -> int:
        """Take up to ``limit`` of ``job``'s decided elements available at ``t``."""
        took = 0
        while took < limit and job.dec_out and job.dec_out[0][0] <= t:
            run = job.dec_out[0]
            k = min(limit - took, run[1])
            took += k
            run[1] -= k
            if run[1] == 0:
                job.dec_out.popleft()
        return took

    def _hand_on(self, job: Job, t: int, total: int, source: deque[list[int]] | None) -> int:
        """Emit (select mode, ``source`` None) or pass (``source``: the decided elements) up to
        ``rate`` elements of ``job`` to probxV, with room; the first waits for the V buffer."""
        limit = min(self.topk_rate, self.topk_cap - self.topk_held, total - job.out_taken)
        if source is not None:
            limit = min(limit, self._ready_decided(job, t))
        if limit <= 0:
            return 0
        if job.out_taken == 0 and not self._value_buffer(job, t):
            return 0
        if source is not None:
            self._take_decided(job, t, limit)
        job.out_taken += limit
        self.topk_held += limit
        self.topk_out.append([t + self.topk_depth, job, limit])
        if job.out_taken == total:  # t_topk_last(job): the engine takes the next job at t + 1
            self.topk_pos += 1
            self.topk_free_from = t + 1
        return limit

    def _value_buffer(self, job: Job, t: int) -> bool:
        """At the job's first emit (pass): allocate its value buffer and submit its V fetch
        (generation and split heads, §5), and fix the probxV source of its elements (§10)."""
        head, hj, b = job.head, job.head.hj, job.head.hj.bits
        v_ready = head.group.v_ready
        if head.kind != SLOT:
            if job.value_bytes > self.value_free:
                return False
            self.value_free -= job.value_bytes
            job.v_allocated = True
            if head.kind == SPLIT:
                rows = head.split_rows[: job.n]
                res = self._fetch(t, head.layer, [("v", hj.layer, hj.kv_head, rows, b.v_msb)])
                self._line_writes("value_sram", rows.size)
                v_ready = res.ready[0]
            elif job.qi == 0:
                parts: list[Part] = [("v", hj.layer, hj.kv_head, hj.v_fetch, b.v_msb)]
                if hj.v_lsb_fetch.size:
                    parts.append(("v_lsb", hj.layer, hj.kv_head, hj.v_lsb_fetch, b.v_lsb))
                res = self._fetch(t, head.layer, parts)
                self._line_writes("value_sram", hj.v_fetch.size)
                if hj.v_fetch.size and head.group.v_ready is None:
                    head.group.v_ready = res.ready[0]
                # the job's own V rows if it fetched any, else the group's (§10)
                v_ready = res.ready[0] if hj.v_fetch.size else head.group.v_ready
        if head.kind == SLOT and job.select and v_ready is not None and v_ready.size:
            job.v_ready = [int(v_ready.max())] * job.m
        else:
            job.v_ready = _rows(v_ready, job.m, job.arb).tolist()
        self.pipe.probxv.count(self.actions, job.m)
        if job.select and job.topk_cycles > 0:
            self.pipe.topk.count(self.actions, "topk_local_v", job.topk_cycles)
        return True

    def _step_front(self, s: int, t: int) -> None:
        """Front stage ``s`` takes, in order, up to ``rate`` elements with data, room, gates."""
        st = self.front[s]
        spec = st.spec
        budget = spec.rate
        took = 0
        took_final = 0
        while budget:
            # the next element: its pass, how many of its pass's next elements are available
            if s == 0:
                if not self.qxk_queue:
                    break
                p = self.qxk_queue[0]
                if t < p.arb + 1:  # gate: the job has been arbitrated
                    break
                avail_count = 0
                lim = min(budget, p.n - self.qxk_next)
                while avail_count < lim and p.src[self.qxk_next + avail_count] <= t:
                    avail_count += 1
            else:
                prev = self.front[s - 1]
                if not prev.out:
                    break
                avail, p, avail_count = prev.out[0]
                if avail > t:
                    break
                if spec.gate >= 0:  # barrier: the previous stage delivered the whole job
                    last = p.last_avail[s - 1]
                    if last is None or t < last + spec.gate:
                        break
            k = min(budget, avail_count, st.cap_for(p) - st.held)
            if k <= 0:
                break
            # take k elements of p
            if s == 0:
                self.qxk_next += k
                if self.qxk_next == p.n:
                    self.qxk_queue.popleft()
                    self.qxk_next = 0
            else:
                prev.out[0][2] -= k
                if prev.out[0][2] == 0:
                    prev.out.popleft()
                prev.held -= k
            budget -= k
            took += k
            p.taken[s] += k
            done = p.taken[s] == p.n
            ready = t + spec.depth
            if done:
                p.last_avail[s] = ready
            st.open_pass = None if done else p
            if s == len(self.front) - 1:  # the decision unit: into the requantization FIFO
                if p.final:
                    took_final += k
                    p.job.dec_out.append([ready, k])
                if done:
                    self.events[ready].append(("report", p))
            else:
                if st.out and st.out[-1][0] == ready and st.out[-1][1] is p:
                    st.out[-1][2] += k
                else:
                    st.out.append([ready, p, k])
                st.held += k
        if took:
            st.busy += 1
            self.last_progress = t
        elif st.open_pass is not None:
            st.stall += 1
        if took_final:
            self.acc_busy += 1

    # -----------------------------------------------------------------------------------------
    def _result(self) -> TimingResult:
        busy = dict.fromkeys(UNITS, 0)
        stall = dict.fromkeys(UNITS, 0)
        for st in self.front:
            busy[st.spec.unit] += st.busy
            stall[st.spec.unit] += st.stall
        busy["topk_local_v"] = self.topk_busy
        stall["topk_local_v"] = self.topk_stall
        busy["probxv"] = self.pv_busy
        stall["probxv"] = self.pv_stall
        busy["importance_accumulators"] = self.acc_busy
        busy["fetcher"] = self.fetcher.busy_cycles
        busy["bitwidth_converter"] = self.fetcher.converter_busy_cycles
        token_head = 0
        for layer in self.layers:
            for call in (layer.lj.token_topk, layer.lj.head_topk):
                if call is not None and call.cycles > 0:
                    token_head += int(call.cycles)
                    self.pipe.topk.count(self.actions, "topk_token_head", int(call.cycles))
        busy["topk_token_head"] = token_head

        stats = self.memory.stats()
        actions = {u: dict(a) for u, a in self.actions.items()}
        actions["dram"] = dram_actions(stats)
        records = []
        ends: list[int] = []
        for layer in self.layers:
            assert layer.start is not None and layer.end is not None
            records.append(layer_record(layer.lj, layer.start, layer.end, layer.dram_bytes))
            ends.append(int(layer.end))
        if self.layers:
            last = self.layers[-1]
            # the last layer to finish (without the layer barrier an empty last layer may end
            # before earlier ones), then the head top-k after the last layer (§7)
            cycles = max(ends) + _cycles(last.lj.head_topk)
        else:
            cycles = 0
        return TimingResult(
            cycles=cycles,
            busy_cycles=busy,
            stall_cycles=stall,
            actions=actions,
            params={},
            bytes_by_stream=dict(self.fetcher.bytes_by_stream),
            transactions=self.fetcher.transactions,
            layers=tuple(records),
            heads_split=self.heads_split,
            memory_stats=stats,
            timeline=None,
        )


def run_reference(cfg: HwConfig, workload: Workload, memory: MemoryModel) -> TimingResult:
    """Run the cycle-stepped reference of docs/timing-model.md on ``workload``."""
    return ReferenceModel(cfg, workload, memory).run()


__all__ = ["ReferenceModel", "run_reference"]
