"""The reference HBM2 controller kernel: the simple form the fast kernel is tested against.

Same machine as :mod:`.controller` (its docstring states the model), written the plain way:
every tick scans every queued request for both the column and the row command, slots are
unordered (a request's age is its index in the batch), and a sleeping channel's wake-up cycle
is the minimum over all candidates. ``DramMemory(kernel="reference")`` and
``timing.mode: reference`` use it; ``tests/hw/dram/test_kernels.py`` and the recorded-stream test
require identical completion cycles, counters, state and command logs from both kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spatten_sim.hw import numba_start
from spatten_sim.hw.dram import timing as T
from spatten_sim.hw.dram.controller import (
    B_ACT,
    B_ACTIVE,
    B_OPEN,
    B_PRE,
    B_RD,
    B_WR,
    C_CLOCK,
    C_COLBUS,
    C_REF_DUE,
    C_REF_PC,
    C_ROWBUS,
    C_WMODE,
    CMD_ACT,
    CMD_PRE,
    CMD_PREAB,
    CMD_RD,
    CMD_RDA,
    CMD_REF,
    CMD_WR,
    CMD_WRA,
    F_CLOCK,
    F_OUT,
    G_ACT,
    G_RD,
    G_WR,
    K_ACTS,
    K_BUSY,
    K_CONFLICTS,
    K_FIRST_ARRIVAL,
    K_HITS,
    K_LAST_DONE,
    K_LAT_SUM,
    K_MAX_LAT,
    K_MISSES,
    K_PRES,
    K_QUEUE_SUM,
    K_READS,
    K_REFS,
    K_WRITES,
    NEVER,
    P_BANKS_PER_GROUP,
    P_CHANNELS,
    P_CLOSED,
    P_CMD_DELAY,
    P_FIFO_DEPTH,
    P_GROUPS_PER_RANK,
    P_IN_ORDER,
    P_ISSUE_CYCLE,
    P_LOG,
    P_MAX_OUT,
    P_MAX_OUT_CH,
    P_NREFI,
    P_PCS,
    P_PER_CH_CYCLE,
    P_RANKS_PER_PC,
    P_READ_BUF,
    P_WR_HI,
    P_WR_LO,
    P_WRITE_BUF,
    PC_ACT,
    PC_ACTIVE,
    PC_OPEN,
    PC_PREAB,
    PC_RD,
    PC_REF,
    PC_WR,
    R_ACT,
    R_FAWPTR,
    R_RD,
    R_WR,
    _inflight_add,
    _log,
    _retire,
)  # fmt: skip

numba_start.install()  # the cache stamp (see numba_start), before the first kernel


@njit(cache=True)
def simulate(
    req_ch,
    req_bank,
    req_row,
    req_write,
    req_arrival,
    ch_order,
    ch_start,
    out_push,
    out_accept,
    out_issue,
    out_done,
    params,
    tm,
    bank_st,
    grp_st,
    rank_st,
    faw,
    pc_st,
    ch_st,
    counters,
    inflight,
    inflight_n,
    front,
    hist,
    log,
    log_n,
):
    """Simulate one batch; fills ``out_*`` (memory cycles) and updates the state in place.

    Requests are given in submission order with non-decreasing ``req_arrival``; ``ch_order`` lists
    request indices grouped by channel (stable), ``ch_start`` the group offsets.
    Returns the cycle of the last tick.
    """
    n_req = req_ch.shape[0]
    C = params[P_CHANNELS]
    K = params[P_BANKS_PER_GROUP]
    GK = K * params[P_GROUPS_PER_RANK]
    RGK = GK * params[P_RANKS_PER_PC]
    NPC = params[P_PCS]
    QR = params[P_READ_BUF]
    QW = params[P_WRITE_BUF]
    cap_ch = params[P_MAX_OUT_CH]
    closed = params[P_CLOSED]
    nrefi = params[P_NREFI]
    in_order = params[P_IN_ORDER]
    fifo_depth = params[P_FIFO_DEPTH]
    per_ch_cycle = params[P_PER_CH_CYCLE]
    issue_cycle = params[P_ISSUE_CYCLE]
    max_out = params[P_MAX_OUT]
    wr_hi = params[P_WR_HI]
    wr_lo = params[P_WR_LO]
    do_log = params[P_LOG]
    cmd_delay = params[P_CMD_DELAY]
    track_inflight = cap_ch > 0 or max_out > 0
    nb = bank_st.shape[1]
    S = QR + QW + nb
    H = hist.shape[0]

    t_act_rd = tm[T.ACT_RD]
    t_act_wr = tm[T.ACT_WR]
    t_act_pre = tm[T.ACT_PRE]
    t_pre_act = tm[T.PRE_ACT]
    t_rc = tm[T.ACT_ACT_BANK]
    t_rrdl = tm[T.ACT_ACT_BG]
    t_rrds = tm[T.ACT_ACT_RANK]
    t_faw = tm[T.FAW]
    t_rtp = tm[T.RD_PRE]
    t_wr_pre = tm[T.WR_PRE]
    t_rda_act = tm[T.RDA_ACT]
    t_wra_act = tm[T.WRA_ACT]
    t_ccdl = tm[T.RD_RD_BG]
    t_ccds = tm[T.RD_RD_RANK]
    t_bl = tm[T.BURST]
    t_rd_wr = tm[T.RD_WR]
    t_wtrl = tm[T.WR_RD_BG]
    t_wtrs = tm[T.WR_RD_RANK]
    t_ref_act = tm[T.REF_ACT]
    t_act_ref = tm[T.ACT_REF]
    t_pre_ref = tm[T.PRE_REF]
    t_act_bus = tm[T.ACT_BUS]
    t_rl = tm[T.READ_LATENCY]
    t_wl = tm[T.WRITE_LATENCY]
    t_rda_ref = tm[T.RDA_REF]
    t_wra_ref = tm[T.WRA_REF]

    # per-call slot storage (buffers are empty between batches)
    s_req = np.empty((C, S), dtype=np.int64)
    s_bank = np.empty((C, S), dtype=np.int64)
    s_row = np.empty((C, S), dtype=np.int64)
    s_wr = np.empty((C, S), dtype=np.int64)
    s_elig = np.empty((C, S), dtype=np.int64)
    s_active = np.empty((C, S), dtype=np.int64)
    s_first = np.empty((C, S), dtype=np.int64)
    n_slots = np.zeros(C, dtype=np.int64)
    cnt_rd = np.zeros(C, dtype=np.int64)  # reads waiting (not activated)
    cnt_wr = np.zeros(C, dtype=np.int64)
    pushed = np.empty(C, dtype=np.int64)  # pointer into ch_order: sent to the channel
    accepted = np.empty(C, dtype=np.int64)  # pointer into ch_order: in the controller
    remaining = np.zeros(C, dtype=np.int64)
    next_t = np.full(C, NEVER, dtype=np.int64)
    push_cycle = np.full(C, -1, dtype=np.int64)
    push_count = np.zeros(C, dtype=np.int64)
    wait_wr = np.zeros(C, dtype=np.int64)  # writes sent to the channel, not yet accepted

    for c in range(C):
        pushed[c] = ch_start[c]
        accepted[c] = ch_start[c]
        remaining[c] = ch_start[c + 1] - ch_start[c]
        if remaining[c] > 0:
            if counters[c, K_FIRST_ARRIVAL] < 0:
                counters[c, K_FIRST_ARRIVAL] = req_arrival[ch_order[ch_start[c]]]
            if in_order == 0:
                first = req_arrival[ch_order[ch_start[c]]]
                nt = min(first, ch_st[c, C_REF_DUE])
                next_t[c] = max(nt, ch_st[c, C_CLOCK])
            else:
                next_t[c] = max(min(ch_st[c, C_REF_DUE], NEVER), ch_st[c, C_CLOCK])
                if ch_st[c, C_REF_DUE] >= NEVER:
                    next_t[c] = NEVER

    total_left = n_req
    g = 0  # frontend pointer (in-order mode)
    front_next = req_arrival[0] if (in_order == 1 and n_req > 0) else NEVER
    front_floor = front[F_CLOCK]  # a batch never sends before the previous batch's last send
    if in_order == 1 and front_next < front_floor:
        front_next = front_floor
    t = np.int64(0)  # int64 like every cycle it takes (NEVER, the arrivals)
    last_t = np.int64(0)
    pushed_now = 0
    pushed_cycle = np.int64(-1)

    while total_left > 0:
        # ---------------- next global cycle
        t = front_next if g < n_req else NEVER
        for c in range(C):
            if next_t[c] < t:
                t = next_t[c]
            if track_inflight and inflight_n[c] > 0 and inflight[c, 0] + 1 < t:
                t = inflight[c, 0] + 1
        if t >= NEVER:
            break  # cannot happen: some request is always pending
        # ---------------- completions
        if track_inflight:
            for c in range(C):
                if inflight_n[c] > 0:
                    _retire(c, t, inflight, inflight_n, front)
        # ---------------- frontend (in order)
        if in_order == 1 and g < n_req and t >= front_floor:
            front_next = NEVER
            if pushed_cycle != t:
                pushed_cycle = t
                pushed_now = 0
            while g < n_req:
                i = g
                if req_arrival[i] > t:
                    front_next = req_arrival[i]
                    break
                if issue_cycle > 0 and pushed_now >= issue_cycle:
                    front_next = t + 1
                    break
                c = req_ch[i]
                if per_ch_cycle > 0 and push_cycle[c] == t and push_count[c] >= per_ch_cycle:
                    front_next = t + 1
                    break
                if max_out > 0 and front[F_OUT] >= max_out:
                    break
                waiting = pushed[c] - accepted[c]
                if fifo_depth > 0:
                    if waiting >= fifo_depth:
                        break
                elif fifo_depth == 0:
                    # straight into the controller's buffer (accepted this cycle): count the
                    # requests already sent to it this cycle
                    if req_write[i] == 1:
                        if cnt_wr[c] + wait_wr[c] >= QW:
                            break
                    elif cnt_rd[c] + waiting - wait_wr[c] >= QR:
                        break
                    if cap_ch > 0 and n_slots[c] + inflight_n[c] + waiting >= cap_ch:
                        break
                pushed[c] += 1
                front[F_CLOCK] = t + 1
                if req_write[i] == 1:
                    wait_wr[c] += 1
                out_push[i] = t
                g += 1
                front[F_OUT] += 1
                pushed_now += 1
                if push_cycle[c] != t:
                    push_cycle[c] = t
                    push_count[c] = 0
                push_count[c] += 1
                wake = max(t, ch_st[c, C_CLOCK])
                if wake < next_t[c]:
                    next_t[c] = wake
        # ---------------- channels
        for c in range(C):
            if next_t[c] > t:
                continue
            last_t = t
            ch_st[c, C_CLOCK] = t + 1
            end = ch_start[c + 1]
            # arrivals (independent mode)
            if in_order == 0:
                while pushed[c] < end and req_arrival[ch_order[pushed[c]]] <= t:
                    out_push[ch_order[pushed[c]]] = req_arrival[ch_order[pushed[c]]]
                    pushed[c] += 1
            # accept into the controller's buffers
            while accepted[c] < pushed[c]:
                i = ch_order[accepted[c]]
                if cap_ch > 0 and n_slots[c] + inflight_n[c] >= cap_ch:
                    break
                w = req_write[i]
                if w == 1:
                    if cnt_wr[c] >= QW:
                        break
                    cnt_wr[c] += 1
                    if in_order == 1:
                        wait_wr[c] -= 1
                else:
                    if cnt_rd[c] >= QR:
                        break
                    cnt_rd[c] += 1
                s = n_slots[c]
                s_req[c, s] = i
                s_bank[c, s] = req_bank[i]
                s_row[c, s] = req_row[i]
                s_wr[c, s] = w
                s_elig[c, s] = t + cmd_delay
                s_active[c, s] = 0
                s_first[c, s] = 0
                n_slots[c] = s + 1
                out_accept[i] = t
                accepted[c] += 1
            # refresh due: queue REFab for every pseudo-channel
            if ch_st[c, C_REF_PC] < 0 and t >= ch_st[c, C_REF_DUE]:
                ch_st[c, C_REF_PC] = 0
            ref_pc = ch_st[c, C_REF_PC]
            # write mode
            wmode = ch_st[c, C_WMODE]
            if wmode == 0:
                if cnt_wr[c] > 0 and (cnt_wr[c] >= wr_hi or cnt_rd[c] == 0):
                    wmode = 1
            else:
                if cnt_wr[c] == 0 or (cnt_rd[c] > 0 and cnt_wr[c] < wr_lo):
                    wmode = 0
            ch_st[c, C_WMODE] = wmode
            issued = False
            min_e = NEVER
            ns = n_slots[c]
            # ================= column slot
            colbus = ch_st[c, C_COLBUS]
            best = -1
            best_age = NEVER
            for s in range(ns):
                act = s_active[c, s]
                if act == 0:
                    if ref_pc >= 0 or s_wr[c, s] != wmode:
                        continue
                    if bank_st[c, s_bank[c, s], B_OPEN] != s_row[c, s]:
                        continue
                b = s_bank[c, s]
                gi = b // K
                ri = b // GK
                pi = b // RGK
                if s_wr[c, s] == 0:
                    e = max(bank_st[c, b, B_RD], grp_st[c, gi, G_RD])
                    e = max(e, max(rank_st[c, ri, R_RD], pc_st[c, pi, PC_RD]))
                else:
                    e = max(bank_st[c, b, B_WR], grp_st[c, gi, G_WR])
                    e = max(e, max(rank_st[c, ri, R_WR], pc_st[c, pi, PC_WR]))
                e = max(e, max(s_elig[c, s], colbus))
                # active-buffer requests first, then the oldest
                age = s_req[c, s] - (n_req if act == 1 else 0)
                if e <= t:
                    if age < best_age:
                        best_age = age
                        best = s
                elif e < min_e:
                    min_e = e
            if best >= 0:
                s = best
                i = s_req[c, s]
                b = s_bank[c, s]
                gi = b // K
                ri = b // GK
                pi = b // RGK
                w = s_wr[c, s]
                if s_first[c, s] == 0:
                    counters[c, K_HITS] += 1
                auto_pre = False
                if closed == 1:
                    auto_pre = True
                    for s2 in range(ns):
                        if s2 != s and s_bank[c, s2] == b and s_row[c, s2] == s_row[c, s]:
                            auto_pre = False
                            break
                if w == 0:
                    bank_st[c, b, B_PRE] = max(bank_st[c, b, B_PRE], t + t_rtp)
                    grp_st[c, gi, G_RD] = max(grp_st[c, gi, G_RD], t + t_ccdl)
                    grp_st[c, gi, G_WR] = max(grp_st[c, gi, G_WR], t + t_rd_wr)
                    rank_st[c, ri, R_RD] = max(rank_st[c, ri, R_RD], t + t_ccds)
                    rank_st[c, ri, R_WR] = max(rank_st[c, ri, R_WR], t + t_rd_wr)
                    pc_st[c, pi, PC_RD] = max(pc_st[c, pi, PC_RD], t + t_bl)
                    pc_st[c, pi, PC_WR] = max(pc_st[c, pi, PC_WR], t + t_rd_wr)
                    pc_st[c, pi, PC_PREAB] = max(pc_st[c, pi, PC_PREAB], t + t_rtp)
                    done = t + t_rl
                    counters[c, K_READS] += 1
                    if auto_pre:
                        bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_rda_act)
                        pc_st[c, pi, PC_REF] = max(pc_st[c, pi, PC_REF], t + t_rda_ref)
                else:
                    bank_st[c, b, B_PRE] = max(bank_st[c, b, B_PRE], t + t_wr_pre)
                    grp_st[c, gi, G_WR] = max(grp_st[c, gi, G_WR], t + t_ccdl)
                    grp_st[c, gi, G_RD] = max(grp_st[c, gi, G_RD], t + t_wtrl)
                    rank_st[c, ri, R_WR] = max(rank_st[c, ri, R_WR], t + t_ccds)
                    rank_st[c, ri, R_RD] = max(rank_st[c, ri, R_RD], t + t_wtrs)
                    pc_st[c, pi, PC_WR] = max(pc_st[c, pi, PC_WR], t + t_bl)
                    pc_st[c, pi, PC_RD] = max(pc_st[c, pi, PC_RD], t + t_wtrs)
                    pc_st[c, pi, PC_PREAB] = max(pc_st[c, pi, PC_PREAB], t + t_wr_pre)
                    done = t + t_wl
                    counters[c, K_WRITES] += 1
                    if auto_pre:
                        bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_wra_act)
                        pc_st[c, pi, PC_REF] = max(pc_st[c, pi, PC_REF], t + t_wra_ref)
                if auto_pre:
                    bank_st[c, b, B_OPEN] = -1
                    pc_st[c, pi, PC_OPEN] -= 1
                    counters[c, K_PRES] += 1
                if do_log == 1:
                    cmd = CMD_RD if w == 0 else CMD_WR
                    if auto_pre:
                        cmd = CMD_RDA if w == 0 else CMD_WRA
                    _log(log, log_n, t, c, cmd, b, s_row[c, s])
                ch_st[c, C_COLBUS] = t + 1
                counters[c, K_BUSY] += t_bl
                if s_active[c, s] == 1:
                    bank_st[c, b, B_ACTIVE] = 0
                    pc_st[c, pi, PC_ACTIVE] -= 1
                elif w == 1:
                    cnt_wr[c] -= 1
                else:
                    cnt_rd[c] -= 1
                out_issue[i] = t
                out_done[i] = done
                lat = done - req_arrival[i]
                counters[c, K_LAT_SUM] += lat
                if lat > counters[c, K_MAX_LAT]:
                    counters[c, K_MAX_LAT] = lat
                hist[min(lat, H - 1)] += 1
                counters[c, K_QUEUE_SUM] += t - out_accept[i]
                if done > counters[c, K_LAST_DONE]:
                    counters[c, K_LAST_DONE] = done
                if track_inflight:
                    _inflight_add(c, done, inflight, inflight_n)
                # remove the slot (order of slots does not matter: age is the request index)
                last = ns - 1
                if s != last:
                    s_req[c, s] = s_req[c, last]
                    s_bank[c, s] = s_bank[c, last]
                    s_row[c, s] = s_row[c, last]
                    s_wr[c, s] = s_wr[c, last]
                    s_elig[c, s] = s_elig[c, last]
                    s_active[c, s] = s_active[c, last]
                    s_first[c, s] = s_first[c, last]
                ns = last
                n_slots[c] = ns
                remaining[c] -= 1
                total_left -= 1
                issued = True
            # ================= row slot
            rowbus = ch_st[c, C_ROWBUS]
            if ref_pc >= 0:
                p = ref_pc
                if pc_st[c, p, PC_OPEN] > 0:
                    # PREab, unless a bank of this pseudo-channel holds an activated request
                    if pc_st[c, p, PC_ACTIVE] == 0:
                        e = max(pc_st[c, p, PC_PREAB], rowbus)
                        if e <= t:
                            for b in range(p * RGK, (p + 1) * RGK):
                                if bank_st[c, b, B_OPEN] >= 0:
                                    bank_st[c, b, B_OPEN] = -1
                                    bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_pre_act)
                            pc_st[c, p, PC_OPEN] = 0
                            pc_st[c, p, PC_REF] = max(pc_st[c, p, PC_REF], t + t_pre_ref)
                            ch_st[c, C_ROWBUS] = t + 1
                            counters[c, K_PRES] += 1
                            if do_log == 1:
                                _log(log, log_n, t, c, CMD_PREAB, p, -1)
                            issued = True
                        elif e < min_e:
                            min_e = e
                else:
                    e = max(pc_st[c, p, PC_REF], rowbus)
                    if e <= t:
                        pc_st[c, p, PC_ACT] = max(pc_st[c, p, PC_ACT], t + t_ref_act)
                        ch_st[c, C_ROWBUS] = t + 1
                        counters[c, K_REFS] += 1
                        if do_log == 1:
                            _log(log, log_n, t, c, CMD_REF, p, -1)
                        issued = True
                        if p + 1 >= NPC:
                            ch_st[c, C_REF_PC] = -1
                            ch_st[c, C_REF_DUE] += nrefi
                        else:
                            ch_st[c, C_REF_PC] = p + 1
                    elif e < min_e:
                        min_e = e
            else:
                best = -1
                best_age = NEVER
                best_is_act = False
                for s in range(ns):
                    if s_active[c, s] == 1 or s_wr[c, s] != wmode:
                        continue
                    b = s_bank[c, s]
                    open_row = bank_st[c, b, B_OPEN]
                    if open_row == s_row[c, s]:
                        continue
                    if open_row < 0:
                        gi = b // K
                        ri = b // GK
                        pi = b // RGK
                        e = max(bank_st[c, b, B_ACT], grp_st[c, gi, G_ACT])
                        e = max(e, max(rank_st[c, ri, R_ACT], pc_st[c, pi, PC_ACT]))
                        e = max(e, faw[c, ri, rank_st[c, ri, R_FAWPTR]] + t_faw)
                        is_act = True
                    else:
                        if bank_st[c, b, B_ACTIVE] == 1:
                            continue
                        e = bank_st[c, b, B_PRE]
                        is_act = False
                    e = max(e, max(s_elig[c, s], rowbus))
                    if e <= t:
                        if s_req[c, s] < best_age:
                            best_age = s_req[c, s]
                            best = s
                            best_is_act = is_act
                    elif e < min_e:
                        min_e = e
                if best >= 0:
                    s = best
                    b = s_bank[c, s]
                    pi = b // RGK
                    if best_is_act:
                        gi = b // K
                        ri = b // GK
                        bank_st[c, b, B_OPEN] = s_row[c, s]
                        bank_st[c, b, B_RD] = max(bank_st[c, b, B_RD], t + t_act_rd)
                        bank_st[c, b, B_WR] = max(bank_st[c, b, B_WR], t + t_act_wr)
                        bank_st[c, b, B_PRE] = max(bank_st[c, b, B_PRE], t + t_act_pre)
                        bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_rc)
                        bank_st[c, b, B_ACTIVE] = 1
                        grp_st[c, gi, G_ACT] = max(grp_st[c, gi, G_ACT], t + t_rrdl)
                        rank_st[c, ri, R_ACT] = max(rank_st[c, ri, R_ACT], t + t_rrds)
                        fp = rank_st[c, ri, R_FAWPTR]
                        faw[c, ri, fp] = t
                        rank_st[c, ri, R_FAWPTR] = (fp + 1) % 4
                        pc_st[c, pi, PC_PREAB] = max(pc_st[c, pi, PC_PREAB], t + t_act_pre)
                        pc_st[c, pi, PC_REF] = max(pc_st[c, pi, PC_REF], t + t_act_ref)
                        pc_st[c, pi, PC_OPEN] += 1
                        pc_st[c, pi, PC_ACTIVE] += 1
                        ch_st[c, C_ROWBUS] = t + t_act_bus
                        counters[c, K_ACTS] += 1
                        if s_first[c, s] == 0:
                            s_first[c, s] = 1
                            counters[c, K_MISSES] += 1
                        s_active[c, s] = 1
                        if s_wr[c, s] == 1:
                            cnt_wr[c] -= 1
                        else:
                            cnt_rd[c] -= 1
                        if do_log == 1:
                            _log(log, log_n, t, c, CMD_ACT, b, s_row[c, s])
                    else:
                        bank_st[c, b, B_OPEN] = -1
                        bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_pre_act)
                        pc_st[c, pi, PC_REF] = max(pc_st[c, pi, PC_REF], t + t_pre_ref)
                        pc_st[c, pi, PC_OPEN] -= 1
                        ch_st[c, C_ROWBUS] = t + 1
                        counters[c, K_PRES] += 1
                        if s_first[c, s] == 0:
                            s_first[c, s] = 1
                            counters[c, K_CONFLICTS] += 1
                        if do_log == 1:
                            _log(log, log_n, t, c, CMD_PRE, b, -1)
                    issued = True
            # ================= when to wake up
            if issued:
                next_t[c] = t + 1
                continue
            nt = min_e
            if ch_st[c, C_REF_PC] < 0 and ch_st[c, C_REF_DUE] < nt:
                nt = ch_st[c, C_REF_DUE]
            if in_order == 0 and pushed[c] < end:
                a = req_arrival[ch_order[pushed[c]]]
                if a < nt:
                    nt = a
            if accepted[c] < pushed[c] and cap_ch > 0 and inflight_n[c] > 0:
                if inflight[c, 0] + 1 < nt:
                    nt = inflight[c, 0] + 1
            if remaining[c] == 0 and n_slots[c] == 0:
                nt = NEVER  # nothing left in this batch: sleep (refresh resumes with the next)
            elif nt >= NEVER and n_slots[c] > 0:
                nt = t + 1  # defensive: never sleep forever with queued requests
            next_t[c] = max(nt, t + 1)
    return last_t
