"""The SpAtten accelerator as a discrete-event SimPy model (the timing phase).

One process per hardware unit, connected by ``simpy.Store``s whose capacities come from the
hardware FIFO depths, so backpressure, overlap and stalls come out of the model:

``sequencer`` (buffer manager + importance top-k barrier) -> ``fetcher`` (address generator,
crossbars, bitwidth converter; talks to the DRAM model in batches) -> ``qxk`` -> ``softmax``
(-> ``importance_accumulators``, computed in closed form) -> ``progressive_decision`` -> ``topk_local_v`` -> ``probxv``;
the ``topk_token_head`` engine runs the token top-k before a layer and the head top-k after it.

Every unit serves a *job* (one query of one head) with an occupancy and a latency derived from
its microarchitecture (:mod:`spatten_sim.hw.units`); events are per query job or per DRAM batch,
never per cycle. The model only replays the :class:`~spatten_sim.workload.Workload`: every
decision (which tokens, heads, V rows survive, which queries re-fetch LSBs, top-k cycles) was
made by the functional phase from the data.

Modelling choices (also in README "What is modelled"):

* Layers are sequential: a layer's fetches start after the previous layer's last query has left
  probxV and the head/token top-k have run (the next layer's Q/K/V come from the FC layers, and
  which tokens survive is known only after the token top-k).
* Summarization: a head's surviving K/V are loaded into the K/V SRAM once and reused by all its
  queries; with ``buffers.double_buffered`` two heads hold buffers, so the next head's load
  overlaps the current head's compute. A head whose K or V do not fit half of its SRAM is
  *split*: its queries stream their keys and values from DRAM one by one (reported as
  ``heads_split``).
* Generation: up to ``fetcher.max_in_flight_requests`` query-head requests are in flight; each
  allocates K buffer bytes before its fetch is issued (released after the progressive decision)
  and V buffer bytes before its V fetch (released after probxV).
* LSB re-fetch: the decision unit issues the LSB fetch as soon as a query misses the threshold;
  when the LSBs arrive the query goes back through QxK (ahead of new queries) and softmax.
  Queries leave the decision stage in order, so probxV waits for the recomputation; later
  queries keep flowing through QxK and softmax and issue their own re-fetches meanwhile.
* Between units a store holds ``max(1, fifo_depth // keys)`` query jobs (``keys`` = the longest
  query of the workload): with 128-entry FIFOs and contexts >= 128 tokens that is one job.
  A unit hands a finished job to the next unit after its pipeline depth; while the previous
  hand-off is still blocked on a full store, the unit stalls.
* Importance accumulation reads the softmax output at the softmax rate and never stalls it, so
  its busy intervals are computed in closed form rather than by a process.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from spatten_sim.config import HwConfig
from spatten_sim.hw import units
from spatten_sim.hw.layout import AddressLayout
from spatten_sim.hw.memory import MemoryModel
from spatten_sim.workload import HeadJob, LayerJob, TopkCall, Workload

UNITS = (
    "fetcher",
    "bitwidth_converter",
    "qxk",
    "softmax",
    "importance_accumulators",
    "progressive_decision",
    "topk_local_v",
    "probxv",
    "topk_token_head",
)

#: wall-clock seconds between two progress lines of a long timing phase
PROGRESS_INTERVAL_S = 5.0

#: priority of fetch requests: the critical path (V after top-k, LSB re-fetch) goes first
_PRIO_URGENT = 0
_PRIO_PREFETCH = 1


@dataclass(frozen=True)
class LayerRecord:
    """Timing of one layer job (one row of the per-layer CSV)."""

    stage: str
    iteration: int
    layer: int
    tokens_total: int
    tokens_kept: int
    heads_kept: int
    queries: int
    requant_queries: int
    start_cycle: int
    end_cycle: int
    dram_bytes: int


@dataclass(frozen=True)
class TimingResult:
    """What the timing phase measured: cycles, per-unit busy/stall, action counts, DRAM."""

    cycles: int
    busy_cycles: dict[str, int]
    stall_cycles: dict[str, int]
    actions: dict[str, dict[str, float]]
    params: dict[str, dict[str, float]]
    bytes_by_stream: dict[str, int]
    transactions: int
    layers: tuple[LayerRecord, ...]
    heads_split: int
    memory_stats: dict[str, Any]
    #: (unit, "busy" | "stall", start_cycle, end_cycle) intervals, when recorded
    timeline: tuple[tuple[str, str, int, int], ...] | None = None


class _HeadCtx:
    """Per-head state shared by that head's query jobs."""

    __slots__ = ("hj", "last_q", "lsb_event", "slot", "slot_res", "split")

    def __init__(self, hj: HeadJob, split: bool) -> None:
        self.hj = hj
        self.split = split
        self.lsb_event: simpy.Event | None = None
        self.slot = None
        self.slot_res: simpy.Resource | None = None
        self.last_q = hj.n_queries - 1


class _Job:
    """One query of one head moving through the pipeline."""

    __slots__ = (
        "ctx",
        "k_ready",
        "kbuf",
        "layer_idx",
        "n_keys",
        "qi",
        "redo",
        "redo_done",
        "requant",
        "slot",
        "topk_cycles",
        "v_ready",
        "v_rows",
        "vbuf",
    )

    def __init__(self, ctx: _HeadCtx, qi: int, layer_idx: int) -> None:
        hj = ctx.hj
        self.ctx = ctx
        self.qi = qi
        self.layer_idx = layer_idx
        self.n_keys = int(hj.keys_per_query[qi])
        self.requant = bool(hj.requant[qi])
        self.v_rows = int(hj.v_kept[qi])
        self.topk_cycles = int(hj.local_topk_cycles[qi])
        self.redo = False
        self.redo_done: simpy.Event | None = None
        self.k_ready: simpy.Event | None = None
        self.v_ready: simpy.Event | None = None
        self.kbuf = 0
        self.vbuf = 0
        self.slot = None


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
        # progress lines only: reading the wall clock never changes what is simulated
        self._progress = progress
        self._jobs_total = sum(h.n_queries for h in workload.head_jobs())
        self._jobs_done = 0
        self._t_start = self._t_last = time.perf_counter()
        #: (unit, "busy" | "stall", start_cycle, end_cycle) intervals when recording
        self.timeline: list[tuple[str, str, int, int]] | None = [] if record_timeline else None
        self.wl = workload
        self.mem = memory
        self.env = simpy.Environment()
        env = self.env
        self.tx = memory.transaction_bytes
        self.layout = AddressLayout(
            workload.n_layers,
            workload.n_heads,
            workload.n_kv_heads,
            workload.prompt_tokens + workload.generated_tokens,
            workload.head_dim,
            max_bits=max(32, cfg.buffers.word_bits),
            transaction_bytes=self.tx,
        )
        self.busy: dict[str, int] = dict.fromkeys(UNITS, 0)
        self.stall: dict[str, int] = dict.fromkeys(UNITS, 0)
        self.actions: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.bytes_by_stream: dict[str, int] = dict.fromkeys(
            ("q", "q_lsb", "k_msb", "k_lsb", "v", "v_lsb"), 0
        )
        self.transactions = 0
        self.heads_split = 0
        self._layer_bytes: dict[int, int] = defaultdict(int)
        self._layer_start: dict[int, int] = {}
        self._layer_end: dict[int, int] = {}
        self._pending: dict[str, deque[simpy.Event]] = {u: deque() for u in UNITS}
        self._last_fire: dict[str, int] = dict.fromkeys(UNITS, 0)
        self._seq = 0

        max_keys = max(
            (int(h.keys_per_query.max()) for h in workload.head_jobs() if h.n_queries), default=1
        )
        jobs_per_fifo = max(1, cfg.softmax.fifo_depth // max(1, max_keys))
        self.fetch_q = simpy.PriorityStore(env)
        self.qxk_in = simpy.PriorityStore(env, capacity=max(2, jobs_per_fifo))
        self.sm_in = simpy.Store(env, capacity=jobs_per_fifo)
        self.dec_in = simpy.Store(env)  # the decision unit never back-pressures (1 cycle/job)
        self.commit_q = simpy.Store(env)  # decided queries, in order
        self._acc_free = 0
        self.topk_in = simpy.Store(env, capacity=max(1, cfg.topk.fifo_depth // max(1, max_keys)))
        self.pv_in = simpy.Store(env, capacity=jobs_per_fifo)
        self.topk_engine = simpy.Resource(env, capacity=1)
        slots = 2 if cfg.buffers.double_buffered else 1
        self.head_slots = simpy.Resource(env, capacity=slots)
        self.inflight = simpy.Resource(env, capacity=cfg.fetcher.max_in_flight_requests)
        self.kbuf = simpy.Container(
            env, capacity=cfg.buffers.key_sram_bytes, init=cfg.buffers.key_sram_bytes
        )
        self.vbuf = simpy.Container(
            env, capacity=cfg.buffers.value_sram_bytes, init=cfg.buffers.value_sram_bytes
        )
        self._half_k = cfg.buffers.key_sram_bytes // slots
        self._half_v = cfg.buffers.value_sram_bytes // slots
        self._line_bytes = cfg.qxk.multipliers * cfg.buffers.word_bits / 8
        self._layer_left: dict[int, int] = {}
        self._layer_done: dict[int, simpy.Event] = {}
        # GQA: K/V of a group fetched once; later heads of the group wait on these events
        self._group_k: dict[tuple[int, int, int], list[simpy.Event]] = defaultdict(list)
        self._group_v: dict[tuple[int, int, int], list[simpy.Event]] = defaultdict(list)
        self._group_lsb: dict[tuple[int, int, int], list[simpy.Event]] = defaultdict(list)
        self._group_rows: dict[tuple[int, int, int], np.ndarray] = {}

    # ------------------------------------------------------------------ helpers
    def _mark(self, unit: str, kind: str, start: int, end: int) -> None:
        """Charge ``[start, end)`` to ``unit`` as busy or stall (and record it on the timeline)."""
        if end <= start:
            return
        (self.busy if kind == "busy" else self.stall)[unit] += end - start
        if self.timeline is not None:
            self.timeline.append((unit, kind, int(start), int(end)))

    def _count(self, unit: str, action: str, n: float) -> None:
        self.actions[unit][action] += n

    def _wait(self, unit: str, ev: simpy.Event | None):
        """Wait for ``ev`` and charge the wait to ``unit``'s stall cycles."""
        if ev is not None and not ev.processed:
            t = self.env.now
            yield ev
            self._mark(unit, "stall", t, self.env.now)

    def _deliver(
        self,
        unit: str,
        store: simpy.Store | None,
        item: Any,
        delay: int,
        occupancy: int,
        after=None,
    ):
        """Hand ``item`` to ``store`` ``delay`` cycles from now (the unit's pipeline depth).

        Hand-offs stay in order (a job never overtakes the one before it). The unit's pipeline
        holds ``1 + ceil(delay / occupancy)`` jobs; when that many hand-offs are still pending
        (the downstream store is full), the unit stalls until the oldest completes.
        """
        env = self.env
        pend = self._pending[unit]
        limit = 1 + -(-delay // max(1, occupancy))
        while len(pend) >= limit:
            t = env.now
            yield pend[0]
            self._mark(unit, "stall", t, env.now)
        fire_at = max(env.now + delay, self._last_fire[unit])
        self._last_fire[unit] = fire_at
        done = env.event()
        pend.append(done)

        def finish(_ev=None) -> None:
            pend.popleft()
            if after is not None:
                after(item)
            done.succeed()

        def fire(_ev=None) -> None:
            if store is None:
                finish()
            else:
                store.put(item).callbacks.append(finish)

        if fire_at > env.now:
            env.timeout(fire_at - env.now).callbacks.append(fire)
        else:
            fire()

    def _all(self, events: list[simpy.Event]) -> simpy.Event | None:
        events = [e for e in events if e is not None and not e.processed]
        if not events:
            return None
        if len(events) == 1:
            return events[0]
        return self.env.all_of(events)

    # ------------------------------------------------------------------ fetcher
    def _fetch(self, parts: list[tuple[str, int, int, np.ndarray, int]], layer_idx: int, prio: int):
        """Queue a fetch of ``(stream, layer, head, rows, bits)`` parts; returns its done event."""
        addrs = [self.layout.transactions(s, lay, h, rows, b) for s, lay, h, rows, b in parts]
        done = self.env.event()
        n = 0
        for (stream, *_), a in zip(parts, addrs, strict=True):
            self.bytes_by_stream[stream] += a.size * self.tx
            n += a.size
        if n == 0:
            done.succeed()
            return done
        self._layer_bytes[layer_idx] += n * self.tx
        allad = np.concatenate(addrs)
        self._seq += 1
        self.fetch_q.put((prio, self._seq, allad, done))
        return done

    def _fetcher(self):
        env, cfg = self.env, self.cfg
        per_cycle = cfg.fetcher.address_issue_per_cycle
        conv_free = 0
        while True:
            _, _, addrs, done = yield self.fetch_q.get()
            n = addrs.size
            t0 = env.now
            arrivals = t0 + np.arange(n, dtype=np.int64) // per_cycle
            completion = self.mem.access(addrs, arrivals)
            last = int(completion.max())
            nbytes = n * self.tx
            conv = units.converter(cfg, nbytes)
            # the converter streams the data as it arrives; it is one unit shared by all fetches
            conv_start = max(t0, conv_free)
            conv_free = max(conv_start + conv.occupancy, last)
            finish = max(last, conv_start + conv.occupancy) + (conv.latency - conv.occupancy)
            self._mark("bitwidth_converter", "busy", conv_start, conv_start + conv.occupancy)
            issue = units.address_issue_cycles(cfg, n)
            self._mark("fetcher", "busy", t0, t0 + issue)
            self.transactions += n
            self._count("fetcher", "requests", n)
            self._count("fetcher", "address_fifo_accesses", 2 * n)
            self._count(
                "fetcher", "data_fifo_accesses", 2 * nbytes / cfg.fetcher.data_fifo_width_bytes
            )
            self._count("bitwidth_converter", "bytes", nbytes)
            ev = env.timeout(max(0, finish - env.now))
            ev.callbacks.append(lambda _e, d=done: d.succeed())
            yield env.timeout(issue)

    def _sram_write(self, which: str, rows: int) -> None:
        nbytes = rows * self.wl.head_dim * self.cfg.buffers.word_bits / 8
        self._count(which, "line_writes", nbytes / self._line_bytes)

    # ------------------------------------------------------------------ sequencer
    def _topk_call(self, call: TopkCall | None):
        if call is None or call.cycles <= 0:
            return
        with self.topk_engine.request() as req:
            yield req
            yield self.env.timeout(call.cycles)
        self._mark("topk_token_head", "busy", self.env.now - call.cycles, self.env.now)
        self._count_topk("topk_token_head", call.cycles)

    def _count_topk(self, unit: str, cycles: int) -> None:
        p = self.cfg.topk.comparators
        # both comparator arrays (< pivot, > pivot) compare P elements every active cycle
        self._count(unit, "comparisons", 2 * p * cycles)
        self._count(unit, "zero_eliminator_ops", p * cycles)
        self._count(unit, "fifo_accesses", p * cycles)

    def _sequencer(self):
        env = self.env
        prev: LayerJob | None = None
        feeder_done: simpy.Event | None = None
        for li, lj in enumerate(self.wl.layers):
            if li > 0:
                yield self._layer_done[li - 1]
            if prev is not None:
                yield from self._topk_call(prev.head_topk)
            yield from self._topk_call(lj.token_topk)
            self._layer_start[li] = env.now
            nq = sum(h.n_queries for h in lj.heads)
            self._layer_left[li] = nq
            self._layer_done[li] = env.event()
            if nq == 0:
                self._layer_done[li].succeed()
                self._layer_end[li] = env.now
            for hj in lj.heads:
                if hj.n_queries == 0:
                    continue
                if hj.stage == "summarization":
                    feeder_done = yield from self._issue_summarization(hj, li, feeder_done)
                else:
                    yield from self._issue_generation(hj, li)
            prev = lj
        if self.wl.layers:
            yield self._layer_done[len(self.wl.layers) - 1]
            if prev is not None:
                yield from self._topk_call(prev.head_topk)

    def _issue_summarization(self, hj: HeadJob, li: int, prev_feeder: simpy.Event | None):
        wb = self.cfg.buffers.word_bits
        k_bytes = hj.n_keys * hj.head_dim * wb // 8
        split = k_bytes > self._half_k or k_bytes > self._half_v
        ctx = _HeadCtx(hj, split)
        req = self.head_slots.request()
        yield req
        ctx.slot, ctx.slot_res = req, self.head_slots
        key = (hj.layer, hj.kv_head, hj.iteration)
        if hj.k_msb_fetch.size or hj.v_fetch.size:
            # the group's surviving rows (later heads of a GQA group have empty fetch lists)
            self._group_rows[key] = np.union1d(hj.k_msb_fetch, hj.v_fetch)
        parts = [("q", hj.layer, hj.head, hj.q_fetch, hj.bits.q_msb)]
        own: list[simpy.Event] = []
        if not split:
            parts += [
                ("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, hj.bits.k_msb),
                ("v", hj.layer, hj.kv_head, hj.v_fetch, hj.bits.v_msb),
            ]
            self._sram_write("key_sram", hj.k_msb_fetch.size)
            self._sram_write("value_sram", hj.v_fetch.size)
        else:
            self.heads_split += 1
        ev = self._fetch(parts, li, _PRIO_PREFETCH)
        own.append(ev)
        ready = self._all(own + self._group_k[key])
        if hj.k_msb_fetch.size or hj.v_fetch.size:
            self._group_k[key].append(ev)
        done = self.env.event()
        self.env.process(self._feed_summarization(ctx, li, ready, prev_feeder, done))
        return done

    def _feed_summarization(self, ctx: _HeadCtx, li: int, ready, prev_feeder, done):
        if prev_feeder is not None and not prev_feeder.processed:
            yield prev_feeder
        hj = ctx.hj
        survivors = self._group_rows[(hj.layer, hj.kv_head, hj.iteration)] if ctx.split else None
        for qi in range(hj.n_queries):
            job = _Job(ctx, qi, li)
            if ctx.split:
                # keys/values do not fit: stream this query's visible keys and values
                rows = survivors[: job.n_keys] if survivors.size else np.zeros(0, np.int32)
                job.k_ready = self._fetch(
                    [("k_msb", hj.layer, hj.kv_head, rows, hj.bits.k_msb)], li, _PRIO_PREFETCH
                )
                job.v_ready = self._fetch(
                    [("v", hj.layer, hj.kv_head, rows, hj.bits.v_msb)], li, _PRIO_PREFETCH
                )
                if qi == 0:
                    job.k_ready = self._all([job.k_ready, ready])
            elif qi == 0:
                job.k_ready = ready
            self._seq += 1
            yield self.qxk_in.put((1, self._seq, job))
        done.succeed()

    def _issue_generation(self, hj: HeadJob, li: int):
        wb = self.cfg.buffers.word_bits
        key = (hj.layer, hj.kv_head, hj.iteration)
        ctx = _HeadCtx(hj, split=False)
        for qi in range(hj.n_queries):
            slot = self.inflight.request()
            yield slot
            rows = hj.k_msb_fetch.size if qi == 0 else 0
            kbytes = min(self.cfg.buffers.key_sram_bytes, rows * hj.head_dim * wb // 8)
            if kbytes:
                yield self.kbuf.get(kbytes)
            parts = [("q", hj.layer, hj.head, hj.q_fetch[qi : qi + 1], hj.bits.q_msb)]
            if qi == 0:
                parts.append(("k_msb", hj.layer, hj.kv_head, hj.k_msb_fetch, hj.bits.k_msb))
                self._sram_write("key_sram", hj.k_msb_fetch.size)
            ev = self._fetch(parts, li, _PRIO_PREFETCH)
            job = _Job(ctx, qi, li)
            job.slot = slot
            job.kbuf = kbytes
            job.k_ready = self._all([ev, *self._group_k[key]])
            if qi == 0 and hj.k_msb_fetch.size:
                self._group_k[key].append(ev)
            if (
                qi == 0
                and not hj.local_topk_cycles.any()
                and np.array_equal(hj.v_kept, hj.keys_per_query)
            ):
                # no local-V pruning: the V rows do not depend on the probabilities, so they
                # are fetched with K instead of after the top-k
                yield from self._fetch_v(job, None)
            self._seq += 1
            yield self.qxk_in.put((1, self._seq, job))

    def _fetch_v(self, job: _Job, unit: str | None):
        """Generation: allocate V buffer space and fetch the V rows of ``job``'s head (once per
        GQA group: later heads also wait for the group's earlier V fetches). ``unit`` is charged
        the stall while the V buffer is full (None: the sequencer, which is not a unit)."""
        hj = job.ctx.hj
        key = (hj.layer, hj.kv_head, hj.iteration)
        vbytes = min(
            self.cfg.buffers.value_sram_bytes,
            hj.v_fetch.size * hj.head_dim * self.cfg.buffers.word_bits // 8,
        )
        if vbytes:
            t = self.env.now
            yield self.vbuf.get(vbytes)
            if unit is not None:
                self._mark(unit, "stall", t, self.env.now)
            job.vbuf = vbytes
        parts = [("v", hj.layer, hj.kv_head, hj.v_fetch, hj.bits.v_msb)]
        if hj.v_lsb_fetch.size:
            parts.append(("v_lsb", hj.layer, hj.kv_head, hj.v_lsb_fetch, hj.bits.v_lsb))
        prio = _PRIO_PREFETCH if unit is None else _PRIO_URGENT
        ev = self._fetch(parts, job.layer_idx, prio)
        self._sram_write("value_sram", hj.v_fetch.size)
        job.v_ready = self._all([ev, *self._group_v[key]]) or ev
        if hj.v_fetch.size:
            self._group_v[key].append(ev)

    # ------------------------------------------------------------------ datapath units
    def _qxk(self):
        cfg = self.cfg
        d = self.wl.head_dim
        while True:
            _, _, job = yield self.qxk_in.get()
            yield from self._wait("qxk", job.k_ready)
            svc = units.qxk(cfg, job.n_keys, d)
            yield self.env.timeout(svc.occupancy)
            self._mark("qxk", "busy", self.env.now - svc.occupancy, self.env.now)
            self._count("qxk", "multiplies", job.n_keys * d)
            self._count("qxk", "adds", job.n_keys * (d - 1))
            self._count("key_sram", "line_reads", svc.occupancy)
            yield from self._deliver(
                "qxk", self.sm_in, job, svc.latency - svc.occupancy, svc.occupancy
            )

    def _softmax(self):
        cfg = self.cfg
        while True:
            job = yield self.sm_in.get()
            svc = units.softmax(cfg, job.n_keys)
            yield self.env.timeout(svc.occupancy)
            self._mark("softmax", "busy", self.env.now - svc.occupancy, self.env.now)
            n = job.n_keys
            # per element: dequantize (1 mult), exp by 5th-order Taylor (5 FMAs), accumulate
            # (1 add), divide (1 div), requantize (1 mult)
            self._count("softmax", "fp_mults", 7 * n)
            self._count("softmax", "fp_adds", 6 * n)
            self._count("softmax", "fp_divs", n)
            self._count("softmax", "fifo_accesses", 2 * n)
            if job.redo:
                yield from self._deliver(
                    "softmax",
                    None,
                    job,
                    svc.latency - svc.occupancy,
                    svc.occupancy,
                    after=lambda j: j.redo_done.succeed(),
                )
            else:
                self._accumulate(job.n_keys)
                yield from self._deliver(
                    "softmax", self.dec_in, job, svc.latency - svc.occupancy, svc.occupancy
                )

    def _accumulate(self, n_keys: int) -> None:
        """Importance accumulators: add a query's probabilities to the token scores at the
        softmax rate, beside the critical path. They never stall anything, so their busy
        interval is computed in closed form instead of through a SimPy process."""
        beats = -(-n_keys // self.cfg.softmax.parallelism)
        start = max(self.env.now - beats, self._acc_free)
        self._acc_free = start + beats
        self._mark("importance_accumulators", "busy", start, start + beats)
        self._count("importance_accumulators", "adds", n_keys)

    def _decision(self):
        """The progressive-quantization decision at the softmax output: one compare per query.
        On a miss the LSB fetch is issued at once and the query goes back through QxK and
        softmax when its LSBs arrive (:meth:`_redo`); later misses issue their fetches without
        waiting, and :meth:`_commit` hands queries on to the top-k unit in order."""
        while True:
            job = yield self.dec_in.get()
            yield self.env.timeout(1)
            self._mark("progressive_decision", "busy", self.env.now - 1, self.env.now)
            self._count("progressive_decision", "comparisons", job.n_keys)
            if job.requant:
                hj = job.ctx.hj
                ctx = job.ctx
                gkey = (hj.layer, hj.kv_head, hj.iteration)
                if ctx.lsb_event is None or hj.stage == "generation":
                    parts = [("k_lsb", hj.layer, hj.kv_head, hj.k_lsb_fetch, hj.bits.k_lsb)]
                    if hj.q_lsb_fetch.size:
                        parts.append(("q_lsb", hj.layer, hj.head, hj.q_lsb_fetch, hj.bits.q_lsb))
                    ctx.lsb_event = self._fetch(parts, job.layer_idx, _PRIO_URGENT)
                    if hj.k_lsb_fetch.size:
                        self._group_lsb[gkey].append(ctx.lsb_event)
                # K LSBs fetched once per GQA group: later heads wait for the group's fetch too
                ready = self._all([ctx.lsb_event, *self._group_lsb[gkey]])
                job.redo_done = self.env.event()
                self.env.process(self._redo(job, ready))
            self.commit_q.put(job)

    def _redo(self, job: _Job, lsb_ready: simpy.Event | None):
        """Recompute a query with MSB+LSB words: back through QxK (ahead of new queries) and
        softmax once its LSBs are on chip; softmax signals ``job.redo_done``."""
        if lsb_ready is not None and not lsb_ready.processed:
            yield lsb_ready
        job.redo = True
        self._seq += 1
        yield self.qxk_in.put((0, self._seq, job))

    def _commit(self):
        """In-order hand-off to the local-V top-k: a query whose LSBs were re-fetched holds up
        the queries behind it (and so probxV) until its recomputation is done."""
        while True:
            job = yield self.commit_q.get()
            if job.redo_done is not None:
                yield from self._wait("progressive_decision", job.redo_done)
                job.redo = False
                yield self.env.timeout(1)  # the second decision, on the recomputed probabilities
                self._mark("progressive_decision", "busy", self.env.now - 1, self.env.now)
                self._count("progressive_decision", "comparisons", job.n_keys)
            if job.kbuf:
                self.kbuf.put(job.kbuf)
                job.kbuf = 0
            yield from self._deliver("progressive_decision", self.topk_in, job, 0, 1)

    def _topk_local_v(self):
        while True:
            job = yield self.topk_in.get()
            c = job.topk_cycles
            if c:
                yield self.env.timeout(c)
                self._mark("topk_local_v", "busy", self.env.now - c, self.env.now)
                self._count_topk("topk_local_v", c)
            hj = job.ctx.hj
            if hj.stage == "generation" and job.qi == 0 and job.v_ready is None:
                yield from self._fetch_v(job, "topk_local_v")
            yield from self._deliver("topk_local_v", self.pv_in, job, 0, max(1, c))

    def _probxv(self):
        cfg = self.cfg
        d = self.wl.head_dim
        while True:
            job = yield self.pv_in.get()
            yield from self._wait("probxv", job.v_ready)
            svc = units.probxv(cfg, job.v_rows, d)
            yield self.env.timeout(svc.occupancy)
            self._mark("probxv", "busy", self.env.now - svc.occupancy, self.env.now)
            self._count("probxv", "multiplies", job.v_rows * d)
            self._count("probxv", "adds", max(0, job.v_rows - 1) * d)
            self._count("value_sram", "line_reads", svc.occupancy)
            self._count("importance_accumulators", "adds", d)  # head importance: sum |E|
            yield from self._deliver(
                "probxv",
                None,
                job,
                svc.latency - svc.occupancy,
                svc.occupancy,
                after=self._retire,
            )

    def _retire(self, job: _Job) -> None:
        ctx = job.ctx
        if job.vbuf:
            self.vbuf.put(job.vbuf)
        if job.slot is not None:
            self.inflight.release(job.slot)
        if ctx.slot is not None and job.qi == ctx.last_q:
            ctx.slot_res.release(ctx.slot)
        self._jobs_done += 1
        if self._progress is not None and not self._jobs_done % 2048:
            self._report_progress()
        li = job.layer_idx
        self._layer_left[li] -= 1
        if self._layer_left[li] == 0:
            self._layer_end[li] = self.env.now
            self._layer_done[li].succeed()

    def _report_progress(self) -> None:
        """A progress line every ``PROGRESS_INTERVAL_S`` of wall time: query jobs retired,
        simulated cycles, elapsed and estimated time left."""
        now = time.perf_counter()
        if now - self._t_last < PROGRESS_INTERVAL_S:
            return
        self._t_last = now
        done, total = self._jobs_done, max(1, self._jobs_total)
        elapsed = now - self._t_start
        left = elapsed * (total - done) / done
        self._progress(
            f"timing phase: {done:,}/{total:,} query jobs ({100 * done / total:.0f} %), "
            f"{int(self.env.now):,} cycles simulated, {elapsed:.0f} s elapsed, ~{left:.0f} s left"
        )

    # ------------------------------------------------------------------ run
    def run(self) -> TimingResult:
        env = self.env
        for proc in (
            self._fetcher,
            self._qxk,
            self._softmax,
            self._decision,
            self._commit,
            self._topk_local_v,
            self._probxv,
        ):
            env.process(proc())
        seq = env.process(self._sequencer())
        env.run(until=seq)
        cycles = int(env.now)
        layers = []
        for li, lj in enumerate(self.wl.layers):
            layers.append(
                LayerRecord(
                    stage=lj.stage,
                    iteration=lj.iteration,
                    layer=lj.layer,
                    tokens_total=lj.tokens_total,
                    tokens_kept=lj.tokens_kept,
                    heads_kept=lj.heads_kept,
                    queries=sum(h.n_queries for h in lj.heads),
                    requant_queries=int(sum(int(h.requant.sum()) for h in lj.heads)),
                    start_cycle=int(self._layer_start.get(li, 0)),
                    end_cycle=int(self._layer_end.get(li, 0)),
                    dram_bytes=int(self._layer_bytes.get(li, 0)),
                )
            )
        cfg = self.cfg
        params = {
            "fetcher": {
                "address_fifo_depth": cfg.fetcher.address_fifo_depth,
                "data_fifo_depth": cfg.fetcher.data_fifo_depth,
                "channels": self.mem.n_channels,
            },
            "qxk": {"word_bits": cfg.buffers.word_bits},
            "probxv": {"word_bits": cfg.buffers.word_bits},
            "key_sram": {
                "capacity_bytes": cfg.buffers.key_sram_bytes,
                "line_bytes": self._line_bytes,
            },
            "value_sram": {
                "capacity_bytes": cfg.buffers.value_sram_bytes,
                "line_bytes": cfg.probxv.multipliers * cfg.buffers.word_bits / 8,
            },
            "softmax": {"fifo_depth": cfg.softmax.fifo_depth},
            "topk_local_v": {
                "comparators": cfg.topk.comparators,
                "fifo_depth": cfg.topk.fifo_depth,
            },
            "topk_token_head": {
                "comparators": cfg.topk.comparators,
                "fifo_depth": cfg.topk.fifo_depth,
            },
            "dram": {"channels": self.mem.n_channels},
        }
        mstats = self.mem.stats()
        actions = {u: dict(a) for u, a in self.actions.items()}
        actions["dram"] = {
            "activations": float(mstats.get("activations", 0)),
            "bytes_read": float(mstats.get("bytes_read", 0)),
            "bytes_written": float(mstats.get("bytes_written", 0)),
            "refreshes": float(mstats.get("refreshes", 0)),
        }
        return TimingResult(
            cycles=cycles,
            busy_cycles=dict(self.busy),
            stall_cycles=dict(self.stall),
            actions=actions,
            params=params,
            bytes_by_stream=dict(self.bytes_by_stream),
            transactions=self.transactions,
            layers=tuple(layers),
            heads_split=self.heads_split,
            memory_stats=mstats,
            timeline=tuple(self.timeline) if self.timeline is not None else None,
        )


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
