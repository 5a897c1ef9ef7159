"""The streaming recurrences of the datapath, per job, in Numba (the fast path of the timing phase).

A job (one pass of one query) streams its elements through a chain of stages; each stage takes
element ``i`` at the earliest cycle allowed by data, order, rate, room and gates
(docs/timing-model.md §2). These max-plus recurrences give, per job and without one event per
element, exactly the cycles the cycle-stepped reference (:mod:`spatten_sim.hw.reference`) finds by
stepping. The SimPy model (:mod:`spatten_sim.hw.accelerator`) calls them once per pass (front
chain: QxK, softmax, decision) and twice per job (back chain: the local-V top-k engine and
probxV), and keeps the chain state between calls in a :class:`FrontChain` / :class:`BackChain`.

Element indices are global per stage (the stage's stream across jobs); the last ``RB`` take
cycles of every stage are kept in a ring buffer (``RB`` a power of two larger than any room or
rate distance looked back).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spatten_sim.hw import numba_start
from spatten_sim.hw.units.base import UNBOUNDED, Stage

numba_start.install()  # Numba's first call without SciPy's BLAS import


def busy_runs(takes: np.ndarray, after: int) -> list[tuple[int, int]]:
    """Contiguous runs ``[start, end)`` of the distinct cycles in ``takes`` (non-decreasing)
    that are later than ``after`` (cycles already on the timeline)."""
    c = np.unique(takes[takes > after])
    if c.size == 0:
        return []
    cut = np.flatnonzero(np.diff(c) > 1)
    starts = np.concatenate(([c[0]], c[cut + 1]))
    ends = np.concatenate((c[cut], [c[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _ring_size(span: int) -> int:
    rb = 16
    while rb < span + 2:
        rb *= 2
    return rb


@njit(cache=True)
def _front_job(
    kready, klen, base, n, is_final,
    rate, depth, cap, gate, capjob,
    hist, idx, busy, stall, last, acc, out, rec,
):  # fmt: skip
    """One pass of ``n`` elements through the front chain; returns its decision report cycle.

    ``kready[:klen]``: ready cycle of each source row (element i uses row min(i, klen-1));
    ``base``: the earliest cycle of any element (the arbitration + 1, the Q row). ``out[i]``:
    cycle element i is available after the last stage. ``idx[0]``: global index of the pass's
    first element (the same in every stage: all stages see the same elements).

    Stages are taken in groups that end before a barrier stage (whose gate needs the previous
    group's last element of the job); within a group each element goes through every stage
    before the next element starts. Per stage and job the room distance (``cap``, at least the
    job in front of a barrier) is fixed before the element loop. A stage's distinct take cycles
    in the job are its first take plus the changes of its take cycle after it, and a change is
    also what counts a busy cycle (``last[k]``: the stage's latest take, across jobs).
    """
    n_st = rate.shape[0]
    mask = hist.shape[1] - 1
    g0 = idx[0]
    recon = rec.shape[1] >= n
    k_out = n_st - 1
    room = np.empty(n_st, np.int64)  # room distance towards the next stage, -1: unbounded
    for k in range(n_st):
        room[k] = -1
        if k + 1 < n_st and cap[k] < UNBOUNDED:
            c = cap[k]
            if capjob[k] and n > c:
                c = n
            room[k] = c
    s0 = 0
    while s0 < n_st:
        s1 = s0 + 1
        while s1 < n_st and gate[s1] < 0:
            s1 += 1
        first = np.empty(s1 - s0, np.int64)
        changes = np.zeros(s1 - s0, np.int64)
        gated = s0 > 0 and gate[s0] >= 0
        tgate = np.int64(0)
        if gate[s0] >= 0:
            tgate = hist[s0 - 1, (g0 + n - 1) & mask] + depth[s0 - 1] + gate[s0]
        for i in range(n):
            g = g0 + i
            gm = g & mask
            tup = np.int64(0)  # this element's take at the stage before (in this group)
            for k in range(s0, s1):
                if k == 0:
                    t = base
                    if klen > 0:
                        r = kready[i if i < klen else klen - 1]
                        if r > t:
                            t = r
                elif k == s0:
                    t = hist[k - 1, gm] + depth[k - 1]
                    if gated and tgate > t:
                        t = tgate
                else:
                    t = tup + depth[k - 1]
                lk = last[k]  # the stage's previous take (element g - 1; -1 before any)
                if lk > t:
                    t = lk
                rk = rate[k]
                if g >= rk:
                    x = hist[k, (g - rk) & mask] + 1
                    if x > t:
                        t = x
                c = room[k]
                if c >= 0 and g >= c:
                    x = hist[k + 1, (g - c) & mask]
                    if x > t:
                        t = x
                hist[k, gm] = t
                tup = t
                if recon:
                    rec[k, i] = t
                if i == 0:
                    first[k - s0] = t
                if t != lk:
                    busy[k] += 1
                    last[k] = t
                    if i > 0:
                        changes[k - s0] += 1
                if k == k_out:
                    out[i] = t + depth[k]
                    if is_final and t != acc[1]:
                        acc[0] += 1
                        acc[1] = t
        for k in range(s0, s1):
            j = k - s0
            lt = hist[k, (g0 + n - 1) & mask]
            stall[k] += (lt - first[j] + 1) - (changes[j] + 1)
        s0 = s1
    idx[0] = g0 + n
    return out[n - 1]


@njit(cache=True)
def _fill(a, n, rate, start, f):
    """Select mode: the top-k engine's fill pass takes the ``n`` elements (cycles into ``f``);
    returns (first, last, distinct cycles)."""
    dist = 0
    prev = np.int64(-1)  # the element before's take (order rule); -1 before the first
    for i in range(n):
        t = a[i]
        if i == 0 and start > t:
            t = start
        if prev > t:
            t = prev
        if i >= rate and f[i - rate] + 1 > t:
            t = f[i - rate] + 1
        f[i] = t
        if t != prev:
            dist += 1
            prev = t
    return f[0], f[n - 1], dist


@njit(cache=True)
def _emit_first(a, n, select, extra, rate, cap_t, ghist, pvhist, st):
    """The cycle the engine would hand on the job's first element, before the V buffer gate."""
    mask = ghist.shape[0] - 1
    gidx = st[0]
    tlast = st[1]
    if select:
        _, fl, _ = _fill(a, n, rate, tlast + 1, np.empty(n, np.int64))
        t = fl + 1 + extra
    else:
        t = max(a[0], tlast + 1)
    if gidx >= 1:
        t = max(t, ghist[(gidx - 1) & mask])
    if gidx >= rate:
        t = max(t, ghist[(gidx - rate) & mask] + 1)
    if gidx - cap_t >= 0:
        t = max(t, pvhist[(gidx - cap_t) & mask])
    return t


@njit(cache=True)
def _back_job(
    a, n, m, select, extra, alpha, vready, vlen, vbase, vall,
    rate, cap_t, pv_rate, pv_depth, ghist, pvhist, st, cnt, rec, fill,
):  # fmt: skip
    """The back chain of one job: the top-k engine (select or pass mode) and probxV.

    ``a[:n]``: cycle each element leaves the decision unit; ``alpha``: the V buffer gate of the
    first handed-on element; probxV element k needs V row min(k, vlen-1) of ``vready`` (all of
    them when ``vall``) and not before ``vbase``. ``st``: [global index, engine's last take].
    ``cnt``: [topk busy, topk stall, probxv busy, probxv stall, probxv last take]. Returns the
    retire cycle.
    """
    mask = ghist.shape[0] - 1
    gidx = st[0]
    tlast = st[1]
    gate = np.int64(0)
    f0 = np.int64(-1)
    fdist = 0
    if select:
        f0, fl, fdist = _fill(a, n, rate, tlast + 1, fill)
        gate = fl + 1 + extra
    vmax = vbase
    if vlen > 0 and vall:
        for r in range(vlen):
            if vready[r] > vmax:
                vmax = vready[r]
    # the engine's previous take is ``tlast`` (``st[1]``) and probxV's is ``cnt[4]`` (-1 before
    # any): the order rule of element k > 0 is the element before it, held in ``t`` and ``p``
    recon = rec.shape[1] >= m
    gchanges = 0
    pchanges = 0
    p_first = np.int64(0)
    p = np.int64(cnt[4])
    t = np.int64(tlast)
    pv_busy = 0
    for k in range(m):
        g = gidx + k
        x = gate if select else a[k]
        if k == 0:
            x = max(x, tlast + 1, alpha)
        else:
            x = max(x, t)
        if g >= rate:
            x = max(x, ghist[(g - rate) & mask] + 1)
        if g >= cap_t:
            x = max(x, pvhist[(g - cap_t) & mask])
        if k > 0 and x != t:
            gchanges += 1
        t = x
        ghist[g & mask] = t
        if recon:
            rec[0, k] = t
        # probxV
        y = t + 1
        if vall:
            y = max(y, vmax)
        else:
            y = max(y, vbase)
            if vlen > 0:
                y = max(y, vready[k if k < vlen else vlen - 1])
        y = max(y, p)  # order (p: probxV's previous take; -1 before any)
        if g >= pv_rate:
            y = max(y, pvhist[(g - pv_rate) & mask] + 1)
        if k == 0:
            p_first = y
        elif y != p:
            pchanges += 1
        if y != p:
            pv_busy += 1
        p = y
        pvhist[g & mask] = p
        if recon:
            rec[1, k] = p
    cnt[2] += pv_busy
    cnt[4] = p
    if select:
        tb = fdist + extra + gchanges + 1
        cnt[0] += tb
        cnt[1] += (t - f0 + 1) - tb
    cnt[3] += (p - p_first + 1) - (pchanges + 1)
    st[0] = gidx + m
    st[1] = t
    return p + pv_depth


class FrontChain:
    """State of the front chain (QxK -> softmax stage(s) -> decision) between passes."""

    def __init__(self, stages: tuple[Stage, ...], max_elements: int) -> None:
        self.stages = stages
        n = len(stages)
        self.rate = np.array([s.rate for s in stages], np.int64)
        self.depth = np.array([s.depth for s in stages], np.int64)
        self.cap = np.array([min(s.cap, UNBOUNDED) for s in stages], np.int64)
        self.gate = np.array([s.gate for s in stages], np.int64)
        # the buffer in front of a barrier stage holds at least the whole job
        self.capjob = np.array([i + 1 < n and stages[i + 1].gate >= 0 for i in range(n)], np.bool_)
        look = max(
            [max_elements, *(s.rate for s in stages), *(s.cap for s in stages if s.cap < UNBOUNDED)]
        )
        self.hist = np.zeros((n, _ring_size(look)), np.int64)
        self.idx = np.zeros(1, np.int64)
        self.busy = np.zeros(n, np.int64)
        self.stall = np.zeros(n, np.int64)
        self.last = np.full(n, -1, np.int64)
        self.acc = np.array([0, -1], np.int64)  #: importance accumulators: busy, last cycle
        self._no_record = np.empty((n, 0), np.int64)
        self.takes = self._no_record

    def run(
        self, kready: np.ndarray, base: int, n: int, is_final: bool, record: bool = False
    ) -> tuple[int, np.ndarray]:
        """Stream one pass; returns (decision report cycle, per-element exit cycles). With
        ``record``, ``self.takes[k, :n]`` holds the cycle each stage took each element."""
        out = np.empty(n, np.int64)
        self.takes = np.empty((len(self.stages), n), np.int64) if record else self._no_record
        t = _front_job(
            kready, kready.shape[0], np.int64(base), n, is_final,
            self.rate, self.depth, self.cap, self.gate, self.capjob,
            self.hist, self.idx, self.busy, self.stall, self.last, self.acc, out, self.takes,
        )  # fmt: skip
        return int(t), out


class BackChain:
    """State of the back chain (local-V top-k engine -> probxV) between jobs."""

    def __init__(self, rate: int, cap: int, pv_rate: int, pv_depth: int) -> None:
        self.rate = rate
        self.cap = cap
        self.pv_rate = pv_rate
        self.pv_depth = pv_depth
        rb = _ring_size(max(rate, cap, pv_rate))
        self.ghist = np.zeros(rb, np.int64)
        self.pvhist = np.zeros(rb, np.int64)
        self.st = np.array([0, -1], np.int64)
        #: topk busy, topk stall, probxv busy, probxv stall, probxv last take
        self.cnt = np.array([0, 0, 0, 0, -1], np.int64)
        self._no_record = np.empty((2, 0), np.int64)
        self._no_fill = np.empty(0, np.int64)
        self.takes = self._no_record
        self.fill = self._no_fill

    def first_emit(self, a: np.ndarray, n: int, select: bool, extra: int) -> int:
        return int(
            _emit_first(
                a, n, select, np.int64(extra), self.rate, self.cap, self.ghist, self.pvhist,
                self.st,
            )
        )  # fmt: skip

    def run(
        self,
        a: np.ndarray,
        n: int,
        m: int,
        select: bool,
        extra: int,
        alpha: int,
        vready: np.ndarray,
        vbase: int,
        vall: bool,
        record: bool = False,
    ) -> int:
        """The job's back chain; returns its retire cycle. With ``record``, ``self.takes``
        holds the engine's hand-on cycles (row 0) and probxV's takes (row 1)."""
        self.takes = np.empty((2, m), np.int64) if record else self._no_record
        self.fill = np.empty(n, np.int64) if select else self._no_fill
        return int(
            _back_job(
                a, n, m, select, np.int64(extra), np.int64(alpha), vready, vready.shape[0],
                np.int64(vbase), vall, self.rate, self.cap, self.pv_rate, self.pv_depth,
                self.ghist, self.pvhist, self.st, self.cnt, self.takes, self.fill,
            )
        )  # fmt: skip


@njit(cache=True)
def _summarization_head(
    a, arb_last, window, wrel, nw, q_ready, kready, vready, qi, n, m, select, extra,
    f_rate, f_depth, f_cap, f_gate, f_capjob, f_hist, f_idx, f_busy, f_stall, f_last, f_acc,
    f_rec, b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt, b_rec,
    out, fill,
):  # fmt: skip
    """The jobs of one summarization head, in program order, without events.

    Each job is admitted at the first cycle after the previous admission (``arb_last``) and
    not before the head's slot acquisition ``a`` at which the request window (``window``
    places, freed at the decision reports held sorted in ``wrel[:nw[0]]``) has room; then its
    front chain pass (final: no LSB re-fetch) and its back chain run as
    :meth:`FrontChain.run` and :meth:`BackChain.run` would. Returns (last admission cycle, the
    last job's retire cycle, latest retire cycle); ``wrel``/``nw`` hold the outstanding reports
    afterwards.
    """
    retire = a
    rmax = a
    nq = q_ready.shape[0]
    for j in range(qi.shape[0]):
        t = max(arb_last + 1, a)
        # releases at or before t leave the window
        k = 0
        while k < nw[0] and wrel[k] <= t:
            k += 1
        if nw[0] - k >= window:
            t = max(t, wrel[nw[0] - window])
            while k < nw[0] and wrel[k] <= t:
                k += 1
        if k > 0:
            for r in range(nw[0] - k):
                wrel[r] = wrel[r + k]
            nw[0] -= k
        arb_last = t
        base = t + 1
        if nq > 0:
            base = max(base, q_ready[min(qi[j], nq - 1)])
        nj = n[j]
        report = _front_job(
            kready, kready.shape[0], base, nj, True, f_rate, f_depth, f_cap, f_gate, f_capjob,
            f_hist, f_idx, f_busy, f_stall, f_last, f_acc, out, f_rec,
        )  # fmt: skip
        # insert the report, keeping wrel sorted (after equal ones, as insort)
        r = nw[0]
        while r > 0 and wrel[r - 1] > report:
            wrel[r] = wrel[r - 1]
            r -= 1
        wrel[r] = report
        nw[0] += 1
        sel = select[j]
        retire = _back_job(
            out, nj, m[j], sel, extra[j], 0, vready, vready.shape[0], 0, sel, b_rate, b_cap,
            b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt, b_rec, fill,
        )  # fmt: skip
        rmax = max(rmax, retire)
    return arb_last, retire, rmax


def summarization_head(
    front: FrontChain,
    back: BackChain,
    a: int,
    arb_last: int,
    window: int,
    wrel: list[int],
    q_ready: np.ndarray,
    kready: np.ndarray,
    vready: np.ndarray,
    jobs: dict[str, np.ndarray],
) -> tuple[int, int, int]:
    """Run :func:`_summarization_head` on the two chains' state. ``jobs`` holds per job ``qi``,
    ``n``, ``m`` (int64), ``select`` (bool) and ``extra`` (int64); ``wrel`` (sorted) is updated
    in place. Returns (last admission cycle, last job's retire cycle, latest retire cycle)."""
    n = jobs["n"]
    cap = max(len(wrel) + n.size + 1, window + 1)
    w = np.empty(cap, np.int64)
    w[: len(wrel)] = wrel
    nw = np.array([len(wrel)], np.int64)
    nmax = int(n.max()) if n.size else 1
    out = np.empty(nmax, np.int64)
    fill = np.empty(nmax, np.int64)
    arb, last, rmax = _summarization_head(
        np.int64(a), np.int64(arb_last), np.int64(window), w, nw, q_ready, kready, vready,
        jobs["qi"], n, jobs["m"], jobs["select"], jobs["extra"],
        front.rate, front.depth, front.cap, front.gate, front.capjob, front.hist, front.idx,
        front.busy, front.stall, front.last, front.acc, front._no_record,
        back.rate, back.cap, back.pv_rate, back.pv_depth, back.ghist, back.pvhist, back.st,
        back.cnt, back._no_record, out, fill,
    )  # fmt: skip
    wrel[:] = w[: nw[0]].tolist()
    return int(arb), int(last), int(rmax)
