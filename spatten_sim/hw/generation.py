"""Generation layers without events: the arbiter, the back chain and the fetches of one layer of
generation heads in one Numba call (the timing phase's fast path for generation).

In a generation layer every head has one query (the new token's), so a layer is a few dozen
jobs, each with three DRAM batches: its Q row and K rows when the arbiter admits it, its K
LSBs when it re-quantizes, its V rows when the value buffer is allocated. The event path
(:mod:`spatten_sim.hw.accelerator`) runs two processes over them: the **arbiter** (one request
a cycle: a pending re-quantization whose decision report has come, else the next new job if
the request window and the key buffer admit it) and the **back chain** (the jobs in program
order through the local-V top-k engine and probxV, each after its value buffer is allocated).
Neither waits on the other except through the memory: their batches reach the HBM2 model in
the order of the cycles they are submitted in, the arbiter's first within a cycle (its phase
comes before the value-buffer allocations, docs/timing-model.md §5). This module runs the same
two processes as a merge of their next cycles, with the same decisions, the same fetches in the
same order (:func:`spatten_sim.hw.units.fetcher.fetch_batch`) and the same front and back chain
recurrences (:mod:`spatten_sim.hw.streaming`), and logs what it did (fetches, passes, back
chain runs, in order) so that the caller books the actions exactly as the event path would.

``tests/test_timing_modes.py`` checks that reports equal the event path's (``timing.mode:
reference``), cycle for cycle and count for count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spatten_sim.hw import numba_start
from spatten_sim.hw.streaming import _back_job, _emit_first, _front_job
from spatten_sim.hw.units.fetcher import fetch_batch

numba_start.install()  # the cache stamp (see numba_start), before the first kernel

__all__ = ["FETCH_FIELDS", "LOG_BACK", "LOG_FETCH", "LOG_PASS", "generation_layer"]

_INF = 1 << 62

#: the log's entry kinds: a fetch (its row in ``fetches``), a front chain pass, a back chain run
LOG_FETCH, LOG_PASS, LOG_BACK = 0, 1, 2
#: columns of a fetch record: job, kind (0 Q+K, 1 K LSB (+ Q LSB), 2 V (+ V LSB)),
#: transactions, issue cycles, last tick of the kernel, transactions of part 0 and of part 1
FETCH_FIELDS = ("job", "kind", "transactions", "issue", "last_tick", "tx_part0", "tx_part1")


@njit(cache=True, inline="always")
def _insort1(a, n, x):
    """Insert ``x`` into the sorted ``a[:n]`` after its equals (``bisect.insort``)."""
    r = n
    while r > 0 and a[r - 1] > x:
        a[r] = a[r - 1]
        r -= 1
    a[r] = x
    return n + 1


@njit(cache=True, inline="always")
def _insort2(a, b, n, x, y):
    """Insert the pair ``(x, y)`` into the sorted pairs ``(a, b)[:n]`` after its equals."""
    r = n
    while r > 0 and (a[r - 1] > x or (a[r - 1] == x and b[r - 1] > y)):
        a[r] = a[r - 1]
        b[r] = b[r - 1]
        r -= 1
    a[r] = x
    b[r] = y
    return n + 1


@njit(cache=True)
def _release_until(a, b, n, t):
    """Pop the (cycle, bytes) pairs due at or before ``t``; returns (bytes freed, new length)."""
    k = 0
    freed = 0
    while k < n and a[k] <= t:
        freed += b[k]
        k += 1
    if k > 0:
        for r in range(n - k):
            a[r] = a[r + k]
            b[r] = b[r + k]
    return freed, n - k


@njit(cache=True)
def _feasible_from(t, need, occ, window, wrel, nw, kused, kcap, krel_t, krel_b, nk):
    """First cycle >= t at which the window and the key buffer admit a new job (by the
    releases known now; _INF if none would), as ``Accelerator._feasible_from``."""
    t_w = t
    k = occ - window + 1
    if k > 0:
        t_w = wrel[k - 1] if k <= nw else _INF
    t_k = t
    free = kcap - kused
    if need > free:
        t_k = _INF
        for r in range(nk):
            free += krel_b[r]
            if need <= free:
                t_k = krel_t[r]
                break
    return max(t_w, t_k)


@njit(cache=True)
def _fetch(
    j, kind, fparts, part_base, part_bits, part_rows, rows, now, fs, tx, per_cycle, conv, wr,
    res, table, table_sizes, xor, request_bytes, n_channels, ch_start, params, tm, bank_st,
    grp_st, rank_st, faw, pc_st, ch_st, counters, inflight, inflight_n, front, hist, log, log_n,
    rec, elog_row, n_f,
):  # fmt: skip
    """Job ``j``'s fetch ``kind`` as ``Fetcher.submit`` on the fused path; returns the rows'
    ready cycles (of all its parts, one after the other), fills the fetch record ``rec`` and
    the log entry ``elog_row`` (fetch record ``n_f``). ``fs[0]`` is the address generator's
    free cycle."""
    p0 = fparts[3 * j + kind]
    p1 = fparts[3 * j + kind + 1]
    rec[0] = j
    rec[1] = kind
    elog_row[0] = LOG_FETCH
    elog_row[1] = n_f
    n_parts = p1 - p0
    r0 = part_rows[p0]
    r1 = part_rows[p1]
    bases = part_base[p0:p1].copy()
    row_bits = part_bits[p0:p1].copy()
    row_off = np.empty(n_parts + 1, np.int64)
    tx_bits = 8 * tx
    bound = 0
    for p in range(n_parts + 1):
        row_off[p] = part_rows[p0 + p] - r0
    for p in range(n_parts):
        rb = row_bits[p]
        bound += (row_off[p + 1] - row_off[p]) * (rb // tx_bits + 2)
    rows_b = rows[r0:r1]
    addrs = np.empty(bound, np.int64)
    tx_off = np.empty(n_parts + 1, np.int64)
    out = np.empty(r1 - r0, np.int64)
    fetch_batch(
        bases, row_bits, rows_b, row_off, tx, now, fs[0], per_cycle, conv, addrs, tx_off, out, wr,
        res, table, table_sizes, xor, request_bytes, n_channels, ch_start, params, tm, bank_st,
        grp_st, rank_st, faw, pc_st, ch_st, counters, inflight, inflight_n, front, hist, log,
        log_n,
    )  # fmt: skip
    n = res[0]
    rec[2] = n
    rec[3] = 0
    rec[4] = 0
    rec[5] = 0
    rec[6] = 0
    if n <= 0:  # nothing to read (or an error, which the caller raises): ready at submission
        out[:] = now
        return out
    fs[0] = res[1] + res[2]
    rec[3] = res[2]
    rec[4] = res[3]
    rec[5] = tx_off[1] - tx_off[0]
    if n_parts > 1:
        rec[6] = tx_off[2] - tx_off[1]
    return out


@njit(cache=True)
def _back(
    j, alpha, own_v, ln, lm, select, extra, gid, a_buf, a_off, vbuf, voff, g_v, no_fill,
    b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt, b_rec, elog, n_e,
    retire,
):  # fmt: skip
    """Job ``j``'s back chain run (``BackChain.run``) on its own V rows (``own_v``) or its
    group's; logs it at ``elog[n_e]`` and sets ``retire[j]``."""
    if own_v:
        vready = vbuf[voff[j] : voff[j + 1]]
    elif g_v[gid[j]] >= 0:
        vready = vbuf[voff[g_v[gid[j]]] : voff[g_v[gid[j]] + 1]]
    else:
        vready = no_fill
    elog[n_e, 0] = LOG_BACK
    elog[n_e, 1] = j
    sel = select[j] != 0
    nj = ln[j]
    fill = np.empty(nj, np.int64) if sel else no_fill
    retire[j] = _back_job(
        a_buf[a_off[j] : a_off[j + 1]], nj, lm[j], sel, extra[j], alpha, vready, vready.shape[0],
        0, False, b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt, b_rec,
        fill,
    )  # fmt: skip


@njit(cache=True)
def _layer(
    t0, ln, lm, requant, select, extra, kneed, vneed, qlsb_pos, gid, n_groups,
    fparts, part_base, part_bits, part_rows, rows,
    st_i, window, kcap, vcap, wrel, krel_t, krel_b, vrel_t, vrel_b, lens,
    fs, tx, per_cycle, conv, wr,
    f_rate, f_depth, f_cap, f_gate, f_capjob, f_hist, f_idx, f_busy, f_stall, f_last, f_acc,
    f_rec, b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt, b_rec,
    table, table_sizes, xor, request_bytes, n_channels, ch_start, params, tm, bank_st, grp_st,
    rank_st, faw, pc_st, ch_st, counters, inflight, inflight_n, front, hist, log, log_n,
    fetches, elog, retire,
):  # fmt: skip
    """The layer's jobs (see the module docstring). ``st_i`` = [arb_last, occ, kused, vused]
    and ``lens`` = [len(wrel), len(krel), len(vrel)] in and out; ``fparts[3 * j + kind]`` ..
    ``[3 * j + kind + 1]`` are job ``j``'s parts of fetch ``kind`` (0: the Q row, then the K
    rows if it fetches any; 1: the K LSB rows (maybe none), then the Q LSB rows if any; 2: the V
    rows (maybe none), then the V LSB rows if any; no parts: no such fetch). ``gid[j]`` is job
    ``j``'s K/V group: a job that fetches no K rows (K LSB rows, V rows) uses those of the
    first job of its group that fetched them, as the event path's per-group ready cycles do.
    Returns the number of log entries (``elog``), or a negative code if a batch failed."""
    J = ln.shape[0]
    arb_last, occ, kused, vused = st_i[0], st_i[1], st_i[2], st_i[3]
    nw, nk, nv = lens[0], lens[1], lens[2]
    pend_t = np.empty(J + 1, np.int64)
    pend_j = np.empty(J + 1, np.int64)
    npend = 0
    a_off = np.zeros(J + 1, np.int64)
    for j in range(J):
        a_off[j + 1] = a_off[j] + ln[j]
    a_buf = np.empty(a_off[J], np.int64)
    decided = np.zeros(J, np.uint8)
    kbytes = np.zeros(J, np.int64)
    res = np.zeros(4, np.int64)
    no_fill = np.empty(0, np.int64)
    # each job's K, K LSB and V rows' ready cycles, kept for the later jobs of its group
    koff = np.zeros(J + 1, np.int64)
    loff = np.zeros(J + 1, np.int64)
    voff = np.zeros(J + 1, np.int64)
    for j in range(J):
        f0, f1, f2, f3 = fparts[3 * j], fparts[3 * j + 1], fparts[3 * j + 2], fparts[3 * j + 3]
        koff[j + 1] = koff[j] + (part_rows[f0 + 2] - part_rows[f0 + 1] if f1 - f0 > 1 else 0)
        loff[j + 1] = loff[j] + (part_rows[f1 + 1] - part_rows[f1] if f2 > f1 else 0)
        voff[j + 1] = voff[j] + (part_rows[f2 + 1] - part_rows[f2] if f3 > f2 else 0)
    kbuf = np.empty(koff[J], np.int64)
    lbuf = np.empty(loff[J], np.int64)
    vbuf = np.empty(voff[J], np.int64)
    g_k = np.full(n_groups, -1, np.int64)  # the job whose K rows are the group's
    g_l = np.full(n_groups, -1, np.int64)
    g_v = np.full(n_groups, -1, np.int64)
    n_f = 0
    n_e = 0
    next_new = 0
    back_next = 0
    back_busy = False
    v_time = _INF
    v_job = -1
    arb_wake = max(t0, arb_last + 1)
    now = t0
    while True:
        if arb_wake >= _INF and v_time >= _INF:
            break
        if arb_wake <= v_time:
            # ---------------------------------------------------------------- the arbiter
            t = arb_wake
            now = t
            arb_wake = _INF
            k = 0
            while k < nw and wrel[k] <= t:
                k += 1
            if k > 0:
                for r in range(nw - k):
                    wrel[r] = wrel[r + k]
                nw -= k
                occ -= k
            freed, nk = _release_until(krel_t, krel_b, nk, t)
            kused -= freed
            j = -1
            redo = False
            if npend > 0 and pend_t[0] <= t:
                j = pend_j[0]
                for r in range(npend - 1):
                    pend_t[r] = pend_t[r + 1]
                    pend_j[r] = pend_j[r + 1]
                npend -= 1
                redo = True
            elif next_new < J:
                need = kneed[next_new]
                if _feasible_from(t, need, occ, window, wrel, nw, kused, kcap, krel_t, krel_b,
                                  nk) <= t:  # fmt: skip
                    j = next_new
                    next_new += 1
                    kbytes[j] = need
                    kused += need
            if j >= 0:
                # ------------------------------------------------------------ arbitrate job j
                occ += 1
                base = t + 1
                kind = 1 if redo else 0
                ready = _fetch(
                    j, kind, fparts, part_base, part_bits, part_rows, rows, t, fs, tx, per_cycle,
                    conv, wr, res, table, table_sizes, xor, request_bytes, n_channels, ch_start,
                    params, tm, bank_st, grp_st, rank_st, faw, pc_st, ch_st, counters,
                    inflight, inflight_n, front, hist, log, log_n, fetches[n_f], elog[n_e], n_f,
                )  # fmt: skip
                if res[0] < 0:
                    return -1 + res[0]
                n_e += 1
                n_f += 1
                p0 = fparts[3 * j + kind]
                n0 = part_rows[p0 + 1] - part_rows[p0]  # rows of the first part
                g = gid[j]
                if not redo:
                    # part 0: the Q row, part 1 (if it fetches any): the K rows
                    if n0 > 0:
                        base = max(base, ready[0])
                    if koff[j + 1] > koff[j]:
                        kbuf[koff[j] : koff[j + 1]] = ready[n0:]
                        if g_k[g] < 0:
                            g_k[g] = j
                        kready = kbuf[koff[j] : koff[j + 1]]
                    elif g_k[g] >= 0:
                        kready = kbuf[koff[g_k[g]] : koff[g_k[g] + 1]]
                    else:
                        kready = no_fill
                else:
                    # part 0: the K LSB rows, part 1 (if listed): the Q LSB rows
                    pos = qlsb_pos[j]
                    if pos >= 0:
                        base = max(base, ready[n0 + pos])
                    if n0 > 0:
                        lbuf[loff[j] : loff[j + 1]] = ready[:n0]
                        if g_l[g] < 0:
                            g_l[g] = j
                        kready = lbuf[loff[j] : loff[j + 1]]
                    elif g_l[g] >= 0:
                        kready = lbuf[loff[g_l[g]] : loff[g_l[g] + 1]]
                    else:
                        kready = no_fill
                final = redo or requant[j] == 0
                elog[n_e, 0] = LOG_PASS
                elog[n_e, 1] = j
                elog[n_e, 2] = 1 if final else 0
                n_e += 1
                nj = ln[j]
                out = a_buf[a_off[j] : a_off[j + 1]]
                report = _front_job(
                    kready, kready.shape[0], base, nj, final, f_rate, f_depth, f_cap, f_gate,
                    f_capjob, f_hist, f_idx, f_busy, f_stall, f_last, f_acc, out, f_rec,
                )  # fmt: skip
                nw = _insort1(wrel, nw, report)
                if final:
                    if kbytes[j] != 0:
                        nk = _insort2(krel_t, krel_b, nk, report, kbytes[j])
                    decided[j] = 1
                else:
                    npend = _insort2(pend_t, pend_j, npend, report, j)
                arb_last = t
            # the next cycle the arbiter can admit something
            c = _INF
            if npend > 0:
                c = pend_t[0]
            if next_new < J:
                c = min(c, _feasible_from(t + 1, kneed[next_new], occ, window, wrel, nw, kused,
                                          kcap, krel_t, krel_b, nk))  # fmt: skip
            if c < _INF:
                arb_wake = max(c, t + 1)
        else:
            # ------------------------------------------------ value buffer allocated: V fetch
            alpha = v_time
            now = alpha
            j = v_job
            v_time = _INF
            freed, nv = _release_until(vrel_t, vrel_b, nv, alpha)
            vused += vneed[j] - freed
            ready = _fetch(
                j, 2, fparts, part_base, part_bits, part_rows, rows, alpha, fs, tx, per_cycle,
                conv, wr, res, table, table_sizes, xor, request_bytes, n_channels, ch_start,
                params, tm, bank_st, grp_st, rank_st, faw, pc_st, ch_st, counters, inflight,
                inflight_n, front, hist, log, log_n, fetches[n_f], elog[n_e], n_f,
            )  # fmt: skip
            if res[0] < 0:
                return -1 + res[0]
            n_e += 1
            n_f += 1
            back_busy = False
            p0 = fparts[3 * j + 2]
            n0 = part_rows[p0 + 1] - part_rows[p0]
            if n0 > 0:
                vbuf[voff[j] : voff[j + 1]] = ready[:n0]
                if g_v[gid[j]] < 0:
                    g_v[gid[j]] = j
            _back(j, alpha, n0 > 0, ln, lm, select, extra, gid, a_buf, a_off, vbuf, voff, g_v,
                  no_fill, b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt,
                  b_rec, elog, n_e, retire)  # fmt: skip
            n_e += 1
            if vneed[j] != 0:
                nv = _insort2(vrel_t, vrel_b, nv, retire[j], vneed[j])
            back_next += 1
        # -------------------------------------------------- the back chain takes the next jobs
        while not back_busy and back_next < J and decided[back_next] == 1:
            j = back_next
            sel = select[j] != 0
            g0 = _emit_first(a_buf[a_off[j] : a_off[j + 1]], ln[j], sel, extra[j], b_rate,
                             b_cap, b_ghist, b_pvhist, b_st)  # fmt: skip
            # the value buffer: allocated at g0 if it has room, else at the release that makes it
            freed, nv = _release_until(vrel_t, vrel_b, nv, g0)
            vused -= freed
            free = vcap - vused
            alpha = g0
            if vneed[j] > free:
                alpha = _INF
                for r in range(nv):
                    free += vrel_b[r]
                    if vneed[j] <= free:
                        alpha = vrel_t[r]
                        break
            if alpha < now:
                return -3  # cannot happen: the allocation would be in the past
            if fparts[3 * j + 3] > fparts[3 * j + 2]:  # V rows (or V LSB rows) to fetch
                back_busy = True
                v_time = alpha
                v_job = j
                break
            # nothing to fetch: the back chain runs at once, on the group's V rows
            _back(j, alpha, False, ln, lm, select, extra, gid, a_buf, a_off, vbuf, voff, g_v,
                  no_fill, b_rate, b_cap, b_pv_rate, b_pv_depth, b_ghist, b_pvhist, b_st, b_cnt,
                  b_rec, elog, n_e, retire)  # fmt: skip
            n_e += 1
            back_next += 1
    if back_next != J:
        return -2  # cannot happen: a job never got its value buffer
    st_i[0], st_i[1], st_i[2], st_i[3] = arb_last, occ, kused, vused
    lens[0], lens[1], lens[2] = nw, nk, nv
    return n_e


def generation_layer(*args):
    """Run :func:`_layer` (the caller, ``Accelerator._generation_layer``, packs its arguments)."""
    return int(_layer(*args))
