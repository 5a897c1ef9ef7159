"""The per-channel HBM2 memory controller as a Numba kernel over one batch of requests.

What it models (docs/hbm2-facts.md §3, Ramulator 2.1's HBM controller with FR-FCFS and all-bank
refresh), cycle by cycle at the memory clock, for every channel of the stack:

* a read buffer and a write buffer per channel (``read_buffer``/``write_buffer`` entries) and an
  *active buffer* (one entry per bank) for requests whose ACT has issued; a request leaves the
  read buffer when its ACT issues, and the controller when its RD/WR issues;
* each cycle one column command (RD/WR) and one row command (ACT/PRE/PREab/REFab); the column slot
  serves (1) the oldest active-buffer request whose column command is legal, then (2) the oldest
  legal row hit from the buffer (FR-FCFS), the latter only while no refresh is pending; the row
  slot serves the pending refresh if any (PREab, then REFab, one pseudo-channel after the other),
  otherwise the oldest request whose ACT/PRE is legal; a PRE never closes a bank that holds an
  activated request;
* requests are classified hit/miss/conflict by their first command (RD/WR, ACT, PRE);
* open-row policy (rows stay open) or closed (RD/WR with auto-precharge when no other queued
  request targets the same row);
* write mode entered above ``write_high_watermark`` of the write buffer (or when no read is
  queued) and left below ``write_low_watermark``;
* a read completes ``nCL + nBL`` cycles after its RD, a write ``nCWL + nBL`` after its WR;
* all-bank refresh every ``nREFI`` cycles (first at ``nREFI``) for every pseudo-channel of the
  channel, queued together as in Ramulator 2.1 (no staggering).

The *frontend* in front of the controllers is part of the kernel because it couples channels:

* ``in_order = 0``: every channel takes its own requests as soon as they arrive and its buffer has
  room (an unbounded queue per channel, no coupling);
* ``in_order = 1``: requests leave one global queue in order (head-of-line blocking), at most
  ``issue_per_cycle`` per cycle in all, at most ``per_channel_per_cycle`` per channel per cycle, at
  most ``max_outstanding`` sent and not completed, into a per-channel FIFO of ``fifo_depth``
  entries (0: straight into the controller's buffer, refused when it is full, as Ramulator's
  ``send``). This is the dram-bench issue protocol and the SpAtten fetcher crossbar.

Time is skipped, never stepped idly: after each tick a channel computes the earliest cycle at which
any of its commands could become legal and sleeps until then. State (open rows, per-scope
earliest-issue cycles, four-activate windows, refresh schedule, statistics) lives in arrays owned
by the caller and persists between batches; the buffers are empty between batches because a batch
is simulated until its last request has issued.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spatten_sim.hw import numba_start
from spatten_sim.hw.dram import timing as T

numba_start.install()  # Numba's first call without SciPy's BLAS import


# ---- parameter vector indices -------------------------------------------------------------
P_CHANNELS = 0
P_BANKS = 1  # per channel
P_BANKS_PER_GROUP = 2
P_GROUPS_PER_RANK = 3
P_RANKS_PER_PC = 4
P_PCS = 5
P_READ_BUF = 6
P_WRITE_BUF = 7
P_MAX_OUT_CH = 8
P_CLOSED = 9
P_REFRESH = 10
P_NREFI = 11
P_IN_ORDER = 12
P_FIFO_DEPTH = 13  # -1 unlimited, 0 none (direct into buffer)
P_PER_CH_CYCLE = 14  # 0 unlimited
P_ISSUE_CYCLE = 15  # 0 unlimited
P_MAX_OUT = 16  # 0 unlimited
P_WR_HI = 17  # write-buffer entries to enter write mode
P_WR_LO = 18  # write-buffer entries below which write mode ends
P_LOG = 19  # 1: record commands
P_CMD_DELAY = 20  # cycles from acceptance to the first command
N_PARAMS = 21

# ---- state layouts -------------------------------------------------------------------------
B_OPEN, B_ACT, B_PRE, B_RD, B_WR, B_ACTIVE = 0, 1, 2, 3, 4, 5
N_BANK = 6
G_ACT, G_RD, G_WR = 0, 1, 2
N_GROUP = 3
R_ACT, R_RD, R_WR, R_FAWPTR = 0, 1, 2, 3
N_RANK = 4
PC_ACT, PC_RD, PC_WR, PC_PREAB, PC_REF, PC_OPEN, PC_ACTIVE = 0, 1, 2, 3, 4, 5, 6
N_PC = 7
C_CLOCK, C_ROWBUS, C_COLBUS, C_REF_DUE, C_REF_PC, C_WMODE = 0, 1, 2, 3, 4, 5
N_CHAN = 6
# counters per channel
K_READS, K_WRITES, K_ACTS, K_PRES, K_REFS, K_HITS, K_MISSES, K_CONFLICTS = 0, 1, 2, 3, 4, 5, 6, 7
K_BUSY, K_LAT_SUM, K_QUEUE_SUM, K_LAST_DONE, K_MAX_LAT, K_FIRST_ARRIVAL = 8, 9, 10, 11, 12, 13
N_COUNTERS = 14
# global frontend state
F_CLOCK, F_OUT = 0, 1  # first cycle the in-order frontend may send; sent, not completed
N_FRONT = 2
# commands (log)
CMD_ACT, CMD_PRE, CMD_RD, CMD_WR, CMD_RDA, CMD_WRA, CMD_PREAB, CMD_REF = 0, 1, 2, 3, 4, 5, 6, 7
LOG_COLS = 5  # cycle, channel, command, bank (or pseudo-channel for PREab/REF), row
INFLIGHT_MAX = 256
NEVER = np.int64(1) << 62
#: a read/write-buffer queue entry is ``request << BANK_BITS | bank``: the bank is read without a
#: load from ``req_bank`` and entries still sort by age (request index). DramConfig.validate
#: allows at most 4,096 banks per channel, below ``1 << BANK_BITS``.
BANK_BITS = 16
BANK_MASK = (1 << BANK_BITS) - 1


def new_state(params: np.ndarray) -> tuple[np.ndarray, ...]:
    """Fresh controller state for the organisation in ``params`` (all banks closed, t = 0)."""
    c = int(params[P_CHANNELS])
    b = int(params[P_BANKS])
    g = b // int(params[P_BANKS_PER_GROUP])
    r = g // int(params[P_GROUPS_PER_RANK])
    p = int(params[P_PCS])
    bank = np.zeros((c, b, N_BANK), dtype=np.int64)
    bank[:, :, B_OPEN] = -1
    group = np.zeros((c, g, N_GROUP), dtype=np.int64)
    rank = np.zeros((c, r, N_RANK), dtype=np.int64)
    faw = np.full((c, r, 4), -(1 << 40), dtype=np.int64)
    pc = np.zeros((c, p, N_PC), dtype=np.int64)
    chan = np.zeros((c, N_CHAN), dtype=np.int64)
    chan[:, C_REF_DUE] = params[P_NREFI] if params[P_REFRESH] else NEVER
    chan[:, C_REF_PC] = -1
    counters = np.zeros((c, N_COUNTERS), dtype=np.int64)
    counters[:, K_FIRST_ARRIVAL] = -1
    inflight = np.zeros((c, INFLIGHT_MAX), dtype=np.int64)
    inflight_n = np.zeros(c, dtype=np.int64)
    front = np.zeros(N_FRONT, dtype=np.int64)
    return bank, group, rank, faw, pc, chan, counters, inflight, inflight_n, front


@njit(cache=True)
def prepare_batch(addresses, arrival, request_bytes, n_channels, ch, order, start):
    """Check a batch and group its requests by channel (stable counting sort). ``request_bytes``
    is a power of two.

    Returns 0 if fine, 1 if an address is negative or not aligned to ``request_bytes``, 2 if the
    arrival cycles decrease or are negative.
    """
    n = addresses.shape[0]
    # alignment by a mask (DramConfig.validate makes the request size a power of two): a modulo
    # by a run-time value would be a division per address
    mask = request_bytes - 1
    for i in range(n):
        a = addresses[i]
        if a < 0 or (a & mask) != 0:
            return 1
        if arrival[i] < 0 or (i > 0 and arrival[i] < arrival[i - 1]):
            return 2
    for c in range(n_channels + 1):
        start[c] = 0
    for i in range(n):
        start[ch[i] + 1] += 1
    for c in range(n_channels):
        start[c + 1] += start[c]
    fill = start[:n_channels].copy()
    for i in range(n):
        c = ch[i]
        order[fill[c]] = i
        fill[c] += 1
    return 0


@njit(cache=True)
def _retire(c, t, inflight, inflight_n, front):
    # a completion at cycle x frees its place for a request sent at x + 1 or later
    n = inflight_n[c]
    k = 0
    while k < n and inflight[c, k] < t:
        k += 1
    if k > 0:
        for j in range(n - k):
            inflight[c, j] = inflight[c, j + k]
        inflight_n[c] = n - k
        front[F_OUT] -= k


@njit(cache=True)
def _inflight_add(c, done, inflight, inflight_n):
    n = inflight_n[c]
    if n >= inflight.shape[1]:
        return  # cannot happen: at most one column command per cycle completes within latency
    j = n
    while j > 0 and inflight[c, j - 1] > done:
        inflight[c, j] = inflight[c, j - 1]
        j -= 1
    inflight[c, j] = done
    inflight_n[c] = n + 1


@njit(cache=True)
def _log(log, log_n, t, c, cmd, bank, row):
    n = log_n[0]
    if n < log.shape[0]:
        log[n, 0] = t
        log[n, 1] = c
        log[n, 2] = cmd
        log[n, 3] = bank
        log[n, 4] = row
    log_n[0] = n + 1


@njit(cache=True, inline="always")
def _q_remove(q, c, n, pos):
    """Remove entry ``pos`` of the age-ordered queue ``q[c, :n]``; returns the new length.
    Inlined (a plain call with the array costs more than the shift), unsigned indices (no
    negative-index fix-up per element)."""
    for j in range(np.uint64(pos), np.uint64(n - 1)):
        q[c, j] = q[c, j + np.uint64(1)]
    return n - 1


@njit(cache=True, inline="always")
def _q2_remove(q, c, w, n, pos):
    """Remove entry ``pos`` of the age-ordered queue ``q[c, w, :n]``; returns the new length
    (as :func:`_q_remove`)."""
    for j in range(np.uint64(pos), np.uint64(n - 1)):
        q[c, w, j] = q[c, w, j + np.uint64(1)]
    return n - 1


@njit(cache=True)
def _move(src, n_src, dst, n_dst, c, w, b, row, req_row, tmp):
    """Move the entries of bank ``b`` (and row ``row``, unless -1) from the age-ordered queue
    ``src[c, w]`` to the age-ordered queue ``dst[c, w]`` (a merge: both stay in age order).
    Entries are encoded as ``request << BANK_BITS | bank``."""
    ns = n_src[c, w]
    m = 0
    keep = 0
    for k in range(ns):
        i = src[c, w, k]
        if (i & BANK_MASK) == b and (row < 0 or req_row[i >> BANK_BITS] == row):
            tmp[m] = i
            m += 1
        else:
            src[c, w, keep] = i
            keep += 1
    if m == 0:
        return
    n_src[c, w] = keep
    nd = n_dst[c, w]
    i1 = nd - 1
    i2 = m - 1
    o = nd + m - 1
    while i2 >= 0:
        if i1 >= 0 and dst[c, w, i1] > tmp[i2]:
            dst[c, w, o] = dst[c, w, i1]
            i1 -= 1
        else:
            dst[c, w, o] = tmp[i2]
            i2 -= 1
        o -= 1
    n_dst[c, w] = nd + m


@njit(cache=True)
def _close_bank(c, b, q_hit, n_hit, q_need, n_need, req_row, tmp):
    """Bank ``b`` closes: its queued row hits become requests that need a row command."""
    for w in range(2):
        if n_hit[c, w] > 0:
            _move(q_hit, n_hit, q_need, n_need, c, w, b, -1, req_row, tmp)


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

    The same machine as :func:`.controller_reference.simulate`, organised for speed: per channel,
    the read buffer, the write buffer and the active buffer are queues of request indices kept in
    age order, so the FR-FCFS choice is the first legal entry of a scan (which stops there); the
    buffers' entries carry their bank (``request << BANK_BITS | bank``), so that a scan skips the
    younger entries of a bank it has looked at without loading anything; a per-channel count of
    queued requests that need a row command (their bank is closed or open on another row) skips
    the row-command scan when it is zero.
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
    H = hist.shape[0]
    # bank -> bank group, rank and pseudo-channel (table lookups: no division per candidate).
    # Unsigned, like the channel numbers in ``due`` and the indices of the queue shifts
    # (``_q_remove``):
    # Numba adds a negative-index fix-up to every array access with a signed index, and in this
    # kernel those fix-ups cost more than the work (same-process A/B on the recorded GPT-2
    # stream: about 4 % for these tables, 9 % for the hit queue's shift, 4 % for ``due``)
    grp_of = np.empty(nb, dtype=np.uint64)
    rank_of = np.empty(nb, dtype=np.uint64)
    pc_of = np.empty(nb, dtype=np.uint64)
    for b in range(nb):
        grp_of[b] = b // K
        rank_of[b] = b // GK
        pc_of[b] = b // RGK

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

    # per-call queues (buffers are empty between batches): request indices in age order
    # the read (w = 0) and write (w = 1) buffers, each split in two age-ordered queues: the
    # requests that hit their bank's open row, and those that need an ACT or PRE (entries
    # ``request << BANK_BITS | bank``; the active buffer holds plain request indices)
    qmax = max(QR, QW, 1)
    q_hit = np.empty((C, 2, qmax), dtype=np.int64)
    q_need = np.empty((C, 2, qmax), dtype=np.int64)
    n_hit = np.zeros((C, 2), dtype=np.int64)
    n_need = np.zeros((C, 2), dtype=np.int64)
    tmp = np.empty(qmax, dtype=np.int64)
    seen = np.zeros(nb, dtype=np.int64)  # bank examined in scan number ``seen[b]``
    scan_id = 0
    q_act = np.empty((C, nb), dtype=np.int64)  # active buffer (ACT issued, one per bank)
    n_rd = np.zeros(C, dtype=np.int64)
    n_wr = np.zeros(C, dtype=np.int64)
    n_act = np.zeros(C, dtype=np.int64)
    first_cmd = np.zeros(n_req, dtype=np.uint8)  # the request's first command has issued
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
    ch_next = NEVER
    for c in range(C):
        ch_next = min(ch_next, next_t[c])
    due = np.empty(C, dtype=np.uint64)  # channels that tick in the current cycle

    while total_left > 0:
        # ---------------- next global cycle (the channels' earliest wake-up is kept by the
        # channel loop below; the frontend's pushes lower it only to the cycle they happen in)
        t = front_next if g < n_req else NEVER
        if ch_next < t:
            t = ch_next
        if track_inflight:
            for c in range(C):
                if inflight_n[c] > 0 and inflight[c, 0] + 1 < t:
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
                        if n_wr[c] + wait_wr[c] >= QW:
                            break
                    elif n_rd[c] + waiting - wait_wr[c] >= QR:
                        break
                    n_slots = n_rd[c] + n_wr[c] + n_act[c]
                    if cap_ch > 0 and n_slots + inflight_n[c] + waiting >= cap_ch:
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
        # the channels due now, in channel order, found without a branch per channel (which
        # ones are due changes from cycle to cycle: a branch on it is mispredicted often)
        ch_next = NEVER
        n_due = 0
        for c in range(C):
            x = next_t[c]
            due[n_due] = c
            d = x <= t
            n_due += d
            ch_next = min(ch_next, NEVER if d else x)
        for j in range(n_due):
            c = due[j]
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
                if cap_ch > 0 and n_rd[c] + n_wr[c] + n_act[c] + inflight_n[c] >= cap_ch:
                    break
                w = req_write[i]
                if w == 1:
                    if n_wr[c] >= QW:
                        break
                    n_wr[c] += 1
                    if in_order == 1:
                        wait_wr[c] -= 1
                else:
                    if n_rd[c] >= QR:
                        break
                    n_rd[c] += 1
                if bank_st[c, req_bank[i], B_OPEN] == req_row[i]:
                    q_hit[c, w, n_hit[c, w]] = (i << BANK_BITS) | req_bank[i]
                    n_hit[c, w] += 1
                else:
                    q_need[c, w, n_need[c, w]] = (i << BANK_BITS) | req_bank[i]
                    n_need[c, w] += 1
                out_accept[i] = t
                accepted[c] += 1
            # refresh due: queue REFab for every pseudo-channel
            if ch_st[c, C_REF_PC] < 0 and t >= ch_st[c, C_REF_DUE]:
                ch_st[c, C_REF_PC] = 0
            ref_pc = ch_st[c, C_REF_PC]
            # write mode
            wmode = ch_st[c, C_WMODE]
            if wmode == 0:
                if n_wr[c] > 0 and (n_wr[c] >= wr_hi or n_rd[c] == 0):
                    wmode = 1
            else:
                if n_wr[c] == 0 or (n_rd[c] > 0 and n_wr[c] < wr_lo):
                    wmode = 0
            ch_st[c, C_WMODE] = wmode
            issued = False
            min_e = NEVER
            # ================= column slot: the oldest legal active-buffer request, else the
            # oldest legal row hit of the current mode's buffer (not while a refresh is pending)
            colbus = ch_st[c, C_COLBUS]
            best = -1
            from_active = False
            for k in range(n_act[c]):
                i = q_act[c, k]
                b = req_bank[i]
                gi = grp_of[b]
                ri = rank_of[b]
                pi = pc_of[b]
                if req_write[i] == 0:
                    e = max(bank_st[c, b, B_RD], grp_st[c, gi, G_RD])
                    e = max(e, max(rank_st[c, ri, R_RD], pc_st[c, pi, PC_RD]))
                else:
                    e = max(bank_st[c, b, B_WR], grp_st[c, gi, G_WR])
                    e = max(e, max(rank_st[c, ri, R_WR], pc_st[c, pi, PC_WR]))
                e = max(e, max(out_accept[i] + cmd_delay, colbus))
                if e <= t:
                    best = k
                    from_active = True
                    break
                if e < min_e:
                    min_e = e
            if best < 0 and ref_pc < 0 and n_hit[c, wmode] > 0:
                # within a bank a younger hit is never legal before an older one (same bank
                # timers, later acceptance): one look per bank (runs of one bank are common in
                # a stream and skipped on the entry alone, without the look-up in ``seen``)
                scan_id += 1
                prevb = -1
                for k in range(n_hit[c, wmode]):
                    e_k = q_hit[c, wmode, k]
                    b = e_k & BANK_MASK
                    if b == prevb:
                        continue
                    prevb = b
                    if seen[b] == scan_id:
                        continue
                    seen[b] = scan_id
                    gi = grp_of[b]
                    ri = rank_of[b]
                    pi = pc_of[b]
                    if wmode == 0:
                        e = max(bank_st[c, b, B_RD], grp_st[c, gi, G_RD])
                        e = max(e, max(rank_st[c, ri, R_RD], pc_st[c, pi, PC_RD]))
                    else:
                        e = max(bank_st[c, b, B_WR], grp_st[c, gi, G_WR])
                        e = max(e, max(rank_st[c, ri, R_WR], pc_st[c, pi, PC_WR]))
                    e = max(e, max(out_accept[e_k >> BANK_BITS] + cmd_delay, colbus))
                    if e <= t:
                        best = k
                        break
                    if e < min_e:
                        min_e = e
            if best >= 0:
                i = q_act[c, best] if from_active else q_hit[c, wmode, best] >> BANK_BITS
                b = req_bank[i]
                r_i = req_row[i]
                gi = grp_of[b]
                ri = rank_of[b]
                pi = pc_of[b]
                w = req_write[i]
                if first_cmd[i] == 0:
                    counters[c, K_HITS] += 1
                auto_pre = False
                if closed == 1:
                    auto_pre = True
                    for k in range(n_act[c]):
                        i2 = q_act[c, k]
                        if i2 != i and req_bank[i2] == b and req_row[i2] == r_i:
                            auto_pre = False
                            break
                    # (a queued request to this bank and row is a row hit)
                    for w2 in range(2):
                        if not auto_pre:
                            break
                        for k in range(n_hit[c, w2]):
                            i2 = q_hit[c, w2, k] >> BANK_BITS
                            if i2 != i and req_bank[i2] == b and req_row[i2] == r_i:
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
                # leave the buffer it was in
                if from_active:
                    n_act[c] = _q_remove(q_act, c, n_act[c], best)
                    bank_st[c, b, B_ACTIVE] = 0
                    pc_st[c, pi, PC_ACTIVE] -= 1
                else:
                    n_hit[c, w] = _q2_remove(q_hit, c, w, n_hit[c, w], best)
                    if w == 1:
                        n_wr[c] -= 1
                    else:
                        n_rd[c] -= 1
                if auto_pre:
                    bank_st[c, b, B_OPEN] = -1
                    _close_bank(c, b, q_hit, n_hit, q_need, n_need, req_row, tmp)
                    pc_st[c, pi, PC_OPEN] -= 1
                    counters[c, K_PRES] += 1
                if do_log == 1:
                    cmd = CMD_RD if w == 0 else CMD_WR
                    if auto_pre:
                        cmd = CMD_RDA if w == 0 else CMD_WRA
                    _log(log, log_n, t, c, cmd, b, r_i)
                ch_st[c, C_COLBUS] = t + 1
                counters[c, K_BUSY] += t_bl
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
                                    _close_bank(c, b, q_hit, n_hit, q_need, n_need, req_row, tmp)
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
            elif n_need[c, wmode] > 0:
                # the oldest queued request of the current mode whose ACT or PRE is legal
                # one look per bank, as for the column command (the bank's oldest decides)
                best = -1
                best_is_act = False
                scan_id += 1
                prevb = -1
                for k in range(n_need[c, wmode]):
                    e_k = q_need[c, wmode, k]
                    b = e_k & BANK_MASK
                    if b == prevb:
                        continue
                    prevb = b
                    if seen[b] == scan_id:
                        continue
                    seen[b] = scan_id
                    i = e_k >> BANK_BITS
                    open_row = bank_st[c, b, B_OPEN]
                    if open_row < 0:
                        ri = rank_of[b]
                        e = max(bank_st[c, b, B_ACT], grp_st[c, grp_of[b], G_ACT])
                        e = max(e, max(rank_st[c, ri, R_ACT], pc_st[c, pc_of[b], PC_ACT]))
                        e = max(e, faw[c, ri, rank_st[c, ri, R_FAWPTR]] + t_faw)
                        is_act = True
                    else:
                        if bank_st[c, b, B_ACTIVE] == 1:
                            continue
                        e = bank_st[c, b, B_PRE]
                        is_act = False
                    e = max(e, max(out_accept[i] + cmd_delay, rowbus))
                    if e <= t:
                        best = k
                        best_is_act = is_act
                        break
                    if e < min_e:
                        min_e = e
                if best >= 0:
                    i = q_need[c, wmode, best] >> BANK_BITS
                    b = req_bank[i]
                    pi = pc_of[b]
                    w = req_write[i]
                    if best_is_act:
                        gi = grp_of[b]
                        ri = rank_of[b]
                        r_i = req_row[i]
                        bank_st[c, b, B_OPEN] = r_i
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
                        if first_cmd[i] == 0:
                            first_cmd[i] = 1
                            counters[c, K_MISSES] += 1
                        # into the active buffer (in age order)
                        n_need[c, w] = _q2_remove(q_need, c, w, n_need[c, w], best)
                        if w == 1:
                            n_wr[c] -= 1
                        else:
                            n_rd[c] -= 1
                        pos = n_act[c]
                        while pos > 0 and q_act[c, pos - 1] > i:
                            q_act[c, pos] = q_act[c, pos - 1]
                            pos -= 1
                        q_act[c, pos] = i
                        n_act[c] += 1
                        # the queued requests to the row just opened are now row hits
                        for w2 in range(2):
                            if n_need[c, w2] > 0:
                                _move(q_need, n_need, q_hit, n_hit, c, w2, b, r_i, req_row, tmp)
                        if do_log == 1:
                            _log(log, log_n, t, c, CMD_ACT, b, r_i)
                    else:
                        bank_st[c, b, B_OPEN] = -1
                        _close_bank(c, b, q_hit, n_hit, q_need, n_need, req_row, tmp)
                        bank_st[c, b, B_ACT] = max(bank_st[c, b, B_ACT], t + t_pre_act)
                        pc_st[c, pi, PC_REF] = max(pc_st[c, pi, PC_REF], t + t_pre_ref)
                        pc_st[c, pi, PC_OPEN] -= 1
                        ch_st[c, C_ROWBUS] = t + 1
                        counters[c, K_PRES] += 1
                        if first_cmd[i] == 0:
                            first_cmd[i] = 1
                            counters[c, K_CONFLICTS] += 1
                        if do_log == 1:
                            _log(log, log_n, t, c, CMD_PRE, b, -1)
                    issued = True
            # ================= when to wake up
            if issued:
                next_t[c] = t + 1
                ch_next = min(ch_next, t + 1)
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
            n_slots = n_rd[c] + n_wr[c] + n_act[c]
            if remaining[c] == 0 and n_slots == 0:
                nt = NEVER  # nothing left in this batch: sleep (refresh resumes with the next)
            elif nt >= NEVER and n_slots > 0:
                nt = t + 1  # defensive: never sleep forever with queued requests
            next_t[c] = max(nt, t + 1)
            ch_next = min(ch_next, next_t[c])
    return last_t
