"""The cycle-stepped reference timing model (spatten_sim/hw/reference.py): closed forms.

Each test builds a tiny workload, runs the reference on ideal memory and checks a figure that
follows from docs/timing-model.md by hand (the derivation is in the comments). Most tests use a
*fast* ideal memory (no latency, unbounded bandwidth and address issue): every fetch's rows are
then ready ``1 + converter latency = 3`` cycles after the batch starts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.config import load_config
from spatten_sim.hw.memory import make_memory
from spatten_sim.hw.reference import run_reference
from spatten_sim.hw.result import TimingResult
from spatten_sim.hw.units import UNITS, build_pipeline
from spatten_sim.pipeline import make_memory_for
from spatten_sim.workload import Bits, HeadJob, LayerJob, Workload

FAST = (
    "memory.latency_ns=0",
    "memory.channel_bandwidth_gbps=1000000.0",
    "fetcher.address_issue_per_cycle=1000000",
)
#: with FAST memory: a batch's rows are ready 3 cycles after it starts (1 + converter latency 2)
READY = 3
D = 64  # head_dim of every workload here
ROW = D * 12 // 8  # bytes of a 12-bit row


def _cfg(*sets: str):
    return load_config("dense", ["memory.preset=ideal", *sets])


def _run(wl: Workload, *sets: str) -> TimingResult:
    cfg = _cfg(*sets)
    return run_reference(cfg, wl, make_memory(dict(cfg.memory), cfg.clock_ghz))


def _depths(*sets: str) -> dict[str, int]:
    """Depth (and gate) of every stage of the configured pipeline."""
    cfg = _cfg(*sets)
    pipe = build_pipeline(cfg, D)
    out = {s.name: s.depth for s in pipe.front}
    out["gate"] = max(s.gate for s in pipe.front)
    out["topk"] = pipe.topk.depth
    out["probxv"] = pipe.probxv.depth
    return out


def _front_latency(*sets: str) -> int:
    """Take-to-report latency of a one-element pass through the front chain (two-pass)."""
    d = _depths(*sets)
    return d["qxk"] + d["softmax_exp"] + d["gate"] + d["softmax_div"] + d["decision"]


def _one_head(
    n_queries: int,
    n_keys: int,
    *,
    v_kept: int | None = None,
    topk_cycles: int = 0,
    requant: bool = False,
) -> Workload:
    """One summarization layer with one head: ``n_queries`` queries, each against ``n_keys``."""
    q = np.arange(n_queries, dtype=np.int32)
    keys = np.arange(n_keys, dtype=np.int32)
    hj = HeadJob(
        "summarization",
        0,
        0,
        0,
        0,
        D,
        Bits(12, 0, 12, 4 if requant else 0, 12, 0),
        q,
        n_keys,
        np.full(n_queries, n_keys, np.int32),
        np.full(n_queries, requant),
        np.full(n_queries, n_keys if v_kept is None else v_kept, np.int32),
        np.full(n_queries, topk_cycles, np.int64),
        q,
        keys,
        keys if requant else np.zeros(0, np.int32),
        keys,
    )
    layer = LayerJob("summarization", 0, 0, (hj,), n_keys, n_keys, 1)
    return Workload("hand", "hand", 1, 1, 1, D, False, max(n_queries, n_keys), 0, (layer,), 0)


def _generation_only(wl: Workload) -> Workload:
    return dataclasses.replace(wl, layers=tuple(lj for lj in wl.layers if lj.stage == "generation"))


# ---------------------------------------------------------------------------------------------
def test_single_one_key_job_is_fetch_plus_every_depth_and_gate(make_dense_workload):
    """One query, one key, default ideal memory (17 ns, one 32-B transaction a cycle per
    channel): the slot fetch's Q, K and V rows are 3 transactions each; the regions are 4-KiB
    aligned, so each row's first transaction is on channel 0: Q's at [0, 1), K's at [1, 2). The
    K row is ready at 2 + 17 + converter, then every stage adds its depth (and the barrier its
    gate); the top-k engine passes the element (no pruning)."""
    cfg = _cfg()
    r = _run(make_dense_workload(n_layers=1, n_heads=1, tokens=1))
    d = _depths()
    k_ready = 2 + 17 + cfg.bitwidth_converter.latency_cycles
    expected = k_ready + sum(
        d[s] for s in ("qxk", "softmax_exp", "gate", "softmax_div", "decision", "topk", "probxv")
    )
    assert expected == 124
    assert r.cycles == expected
    assert (r.layers[0].start_cycle, r.layers[0].end_cycle) == (0, expected)
    assert r.layers[0].dram_bytes == 3 * ROW == r.transactions * 32
    for unit in UNITS:
        busy = 0 if unit in ("topk_local_v", "topk_token_head") else 1
        assert r.busy_cycles[unit] == busy, unit
        assert r.stall_cycles[unit] == 0, unit
    assert r.actions["qxk"]["multiplies"] == D
    assert r.actions["dram"]["bytes_read"] == 3 * ROW
    assert r.params == {} and r.timeline is None and r.heads_split == 0


def test_pass_through_softmax_drops_the_two_pass_depths_and_gate(make_dense_workload):
    wl = make_dense_workload(n_layers=1, n_heads=1, tokens=1)
    two = _run(wl)
    one = _run(wl, "softmax.impl=pass_through")
    d2, d1 = _depths(), _depths("softmax.impl=pass_through")
    saved = d2["softmax_exp"] + d2["gate"] + d2["softmax_div"] - d1["softmax"]
    assert two.cycles - one.cycles == saved == 86
    assert (one.busy_cycles["softmax_div"], one.stall_cycles["softmax_div"]) == (0, 0)
    assert one.busy_cycles["softmax"] == 1 and two.busy_cycles["softmax_div"] == 1


def test_long_summarization_streams_at_the_slowest_stage(make_dense_workload):
    """64 queries x 64 keys through a pass-through softmax of 4 a cycle (QxK: 8): the softmax
    takes the 4,096 scores back to back from the first one's arrival, never stalling."""
    sets = (*FAST, "softmax.impl=pass_through", "softmax.parallelism=4")
    r = _run(make_dense_workload(n_layers=1, n_heads=1, tokens=64), *sets)
    d = _depths(*sets)
    elements = 64 * 64
    first = READY + d["qxk"]  # the softmax's first take
    last = first + (elements - 1) // 4
    assert r.cycles == last + d["softmax"] + d["decision"] + d["topk"] + d["probxv"] == 1043
    for unit in ("softmax", "progressive_decision", "probxv"):
        assert r.busy_cycles[unit] == elements // 4, unit
        assert r.stall_cycles[unit] == 0, unit
    # QxK runs ahead until its room (depth x rate + the softmax FIFO) is full, then follows
    assert elements // 8 < r.busy_cycles["qxk"] <= elements // 4 + 1


def test_tiny_softmax_fifo_starves_the_softmax_at_the_qxk_rate():
    """Two 512-key queries, QxK 8/cycle, two-pass softmax 16/cycle with a 1-entry score buffer:
    the exp stage holds one job (cap = max(28 x 16 + 1, 512) = 512), so it starts job 1 only
    when the divide stage starts job 0 (its barrier). QxK meanwhile computes job 1 into its
    room: all of it with a big FIFO (the exp stage then takes it at 16/cycle, room-limited), but
    only cap = 7 x 8 + 1 = 57 scores with a 1-entry FIFO, after which the exp stage takes the
    rest at QxK's 8/cycle."""
    n, rq, rs = 512, 8, 16
    base = (*FAST, "softmax.parallelism=16", "softmax.score_buffer_entries=1")
    wl = _one_head(2, n)
    big = _run(wl, *base, "softmax.fifo_depth=1024")
    tiny = _run(wl, *base, "softmax.fifo_depth=1")
    d = _depths(*base)
    cap = d["qxk"] * rq + 1
    # job 1's exp: big FIFO, room-limited from the divide's start: last at start + (n-1)//16;
    # tiny FIFO: the 57 prefetched, then QxK's rate from the same start: start + 7 + (n-1-57)//8
    assert tiny.cycles - big.cycles == d["qxk"] + (n - 1 - cap) // rq - (n - 1) // rs == 32
    # QxK: job 1 from cycle 3 + 512/8 = 67, its 57th score at 67 + 56//8; it resumes when the
    # exp stage takes job 1's first score, the divide's gate on job 0
    resume = READY + d["qxk"] + (n - 1) // rq + d["softmax_exp"] + d["gate"]
    assert tiny.stall_cycles["qxk"] == resume - (READY + n // rq + (cap - 1) // rq) - 1 == 49
    assert big.stall_cycles["qxk"] == 0
    assert big.busy_cycles["softmax"] == n // rq + n // rs  # job 0 at QxK's rate, job 1 at its own


def test_tiny_probxv_fifo_throttles_the_topk_emit_to_probxv_rate():
    """Select mode: 64 keys, keep 32 V rows, 20 top-k cycles (16 extra rounds after the 4-cycle
    fill). The engine is the bottleneck (front chain: 8 cycles a job). With probxV's 512-entry
    FIFO the emit takes 32/16 = 2 cycles; with a 1-entry FIFO (room 16 + 1) it hands 16, 9 and 7
    as probxV (8/cycle) drains: 3 cycles. Every job's engine time is one cycle longer; the last
    retire is Q - 1 cycles later (the last emit Q cycles later, probxV's tail one cycle
    shorter)."""
    q = 10
    wl = _one_head(q, 64, v_kept=32, topk_cycles=20)
    big = _run(wl, *FAST)
    tiny = _run(wl, *FAST, "probxv.input_fifo_depth=1")
    extra = 20 - 64 // 16
    first = 64 // 8 + extra + 2  # job 0 fills at the decision's rate, 8/cycle
    later = 64 // 16 + extra + 2  # the others from the requantization FIFO's backlog
    assert big.busy_cycles["topk_local_v"] == first + (q - 1) * later == 224
    assert tiny.busy_cycles["topk_local_v"] == big.busy_cycles["topk_local_v"] + q
    assert tiny.stall_cycles["topk_local_v"] == big.stall_cycles["topk_local_v"] == 0
    assert tiny.cycles - big.cycles == q - 1
    lv = big.actions["topk_local_v"]
    assert lv["comparisons"] == 2 * 16 * 20 * q and lv["fifo_accesses"] == 16 * 20 * q


def test_redo_goes_through_the_front_chain_twice():
    """One one-key query that misses: the first pass reports at T; the redo is arbitrated at T,
    its LSB fetch is ready 3 cycles later and it goes through the front chain again."""
    plain = _run(_one_head(1, 1), *FAST)
    redo = _run(_one_head(1, 1, requant=True), *FAST)
    assert redo.cycles - plain.cycles == READY + _front_latency() == 98
    assert redo.bytes_by_stream["k_lsb"] == 32  # one 4-bit row of 64 words
    assert redo.layers[0].requant_queries == 1
    for unit, passes in (("qxk", 2), ("softmax", 2), ("progressive_decision", 2), ("probxv", 1)):
        assert redo.busy_cycles[unit] == passes, unit
    assert redo.actions["progressive_decision"]["comparisons"] == 2
    assert redo.actions["qxk"]["multiplies"] == 2 * D
    # importance: the final pass's probability, plus probxV's head-score adds (D)
    assert redo.actions["importance_accumulators"]["adds"] == 1 + D
    assert redo.busy_cycles["importance_accumulators"] == 1


def test_in_flight_window_of_one_serializes_generation_requests(make_dense_workload):
    """Three generation heads of 17 keys, one request in flight: each is arbitrated at the
    previous one's decision report. A request's K rows are ready 3 cycles after arbitration;
    QxK and the softmax's exp and divide each take ceil(17/8) = 3 cycles, so the report comes
    3 + front latency + 2 x 2 cycles after arbitration. The last job retires 3 + 7 after its
    report (its V fetch, at the top-k engine's first element, then probxV at 8/cycle)."""
    wl = _generation_only(make_dense_workload(n_layers=1, n_heads=3, tokens=17, generated=1))
    n = 17
    serial = _run(wl, *FAST, "fetcher.max_in_flight_requests=1")
    period = READY + _front_latency() + 2 * ((n - 1) // 8)
    assert serial.cycles == 3 * period + READY + _depths()["probxv"] == 316
    assert serial.busy_cycles["fetcher"] == 6  # a request fetch and a V fetch per job
    overlapped = _run(wl, *FAST)
    assert overlapped.cycles < serial.cycles - period


def test_qxk_starts_a_job_the_cycle_after_its_arbitration():
    """Three one-key queries of one head, one request in flight: the slot's rows are ready at
    3, so job 0 reports at 3 + front latency; each later job is arbitrated at the previous
    report and QxK takes it one cycle later (its rows long on chip)."""
    r = _run(_one_head(3, 1), *FAST, "fetcher.max_in_flight_requests=1")
    front = _front_latency()
    d = _depths()
    assert r.cycles == READY + front + 2 * (1 + front) + d["topk"] + d["probxv"] == 298


def test_key_buffer_serializes_a_split_heads_jobs():
    """A 16-key head whose K (1,536 B) exceeds half of a 2,000-B key SRAM is split: each job
    fetches its K rows at arbitration and its V rows at the top-k engine, and the key buffer
    holds one job's keys, so the next job is arbitrated at the previous one's final report (as
    with a window of one). Job 0's request fetch waits one cycle for the slot fetch (Q rows)."""
    q, n = 4, 16
    wl = _one_head(q, n)
    split = _run(wl, *FAST, "buffers.key_sram_bytes=2000")
    assert split.heads_split == 1
    assert split.bytes_by_stream["k_msb"] == split.bytes_by_stream["v"] == q * n * ROW
    assert split.actions["key_sram"]["line_writes"] == q * n * ROW / (512 * 12 / 8)
    period = READY + _front_latency() + 2 * ((n - 1) // 8)
    assert split.cycles == 1 + q * period + READY + _depths()["probxv"] == 411
    whole = _run(wl, *FAST, "buffers.key_sram_bytes=4000", "buffers.value_sram_bytes=4000")
    assert whole.heads_split == 0
    assert whole.bytes_by_stream["k_msb"] == whole.bytes_by_stream["v"] == n * ROW
    assert whole.cycles < split.cycles


def test_value_buffer_allocation_waits_for_the_previous_retire(make_dense_workload):
    """Two generation heads of 17 keys with a value SRAM of one job's V rows (1,632 B): job 1's
    first top-k element waits for job 0's retire R0, then its V fetch (ready R0 + 3) and probxV
    (17 rows at 8/cycle) follow."""
    wl = _generation_only(make_dense_workload(n_layers=1, n_heads=2, tokens=17, generated=1))
    solo = dataclasses.replace(
        wl, layers=(dataclasses.replace(wl.layers[0], heads=wl.layers[0].heads[:1]),)
    )
    r0 = _run(solo, *FAST).cycles  # job 0 is never delayed by job 1
    small = _run(wl, *FAST, "buffers.value_sram_bytes=1632")
    assert small.cycles == r0 + READY + (17 - 1) // 8 + _depths()["probxv"]
    roomy = _run(wl, *FAST, "buffers.value_sram_bytes=3264")
    assert roomy.cycles == _run(wl, *FAST).cycles < small.cycles


def test_layers_wait_for_the_token_topk(make_dense_workload):
    wl = make_dense_workload(n_layers=2, n_heads=1, tokens=8, token_topk_cycles=50)
    r = _run(wl, *FAST)
    l0, l1 = r.layers
    assert l0.start_cycle == 50
    assert l1.start_cycle == l0.end_cycle + 50
    assert l1.end_cycle - l1.start_cycle == l0.end_cycle - l0.start_cycle  # the same work
    assert r.cycles == l1.end_cycle
    assert r.busy_cycles["topk_token_head"] == 100 and r.stall_cycles["topk_token_head"] == 0
    assert r.actions["topk_token_head"]["comparisons"] == 2 * 16 * 100
    assert l0.dram_bytes == l1.dram_bytes == 3 * 8 * ROW
    assert (l0.queries, l0.requant_queries) == (8, 0)


def test_without_layer_barrier_a_layer_starts_when_the_previous_acquired_its_slots(
    make_dense_workload,
):
    """One head per layer, two slots: layers 0 and 1 take the slots at 0, so layers 1 and 2
    start at 0; layer 2's head gets a slot when layer 0 retires, which starts layer 3."""
    wl = make_dense_workload(n_layers=4, n_heads=1, tokens=8)
    free = _run(wl, *FAST, "timing.layer_barrier=false")
    starts = [rec.start_cycle for rec in free.layers]
    assert starts == [0, 0, 0, free.layers[0].end_cycle]
    barrier = _run(wl, *FAST)
    assert [rec.start_cycle for rec in barrier.layers[1:]] == [
        rec.end_cycle for rec in barrier.layers[:-1]
    ]
    assert free.cycles < barrier.cycles
    assert free.layers[-1].end_cycle == free.cycles


def test_gqa_groups_fetch_k_and_v_once(make_dense_workload):
    wl = make_dense_workload(n_layers=1, n_heads=4, n_kv_heads=2, tokens=16, generated=2)
    r = _run(wl, *FAST)
    prompt = 14
    kv_rows = 2 * (prompt + (prompt + 1) + (prompt + 2))  # two groups: summarization, 2 iters
    assert r.bytes_by_stream["k_msb"] == r.bytes_by_stream["v"] == kv_rows * ROW
    assert r.bytes_by_stream["q"] == 4 * (prompt + 2) * ROW


@pytest.mark.parametrize("preset", ["spatten", "spatten_rtl"])
def test_invariants_on_hbm2_behind_the_crossbar(make_dense_workload, preset):
    cfg = load_config(preset, [])
    wl = make_dense_workload(
        n_layers=2,
        n_heads=2,
        n_kv_heads=1,
        tokens=40,
        generated=6,
        requant_every=3,
        topk_cycles=12,
        v_keep=0.5,
        token_topk_cycles=5,
    )
    r1 = run_reference(cfg, wl, make_memory_for(cfg))
    r2 = run_reference(cfg, wl, make_memory_for(cfg))
    assert r1.comparable() == r2.comparable()
    assert set(r1.busy_cycles) == set(r1.stall_cycles) == set(UNITS)
    for unit in UNITS:
        assert 0 <= r1.busy_cycles[unit] + r1.stall_cycles[unit] <= r1.cycles, unit
    total = sum(r1.bytes_by_stream.values())
    assert total == r1.memory_stats["bytes_read"] == r1.transactions * 32 > 0
    assert sum(rec.dram_bytes for rec in r1.layers) == total
    assert r1.actions["dram"]["bytes_read"] == float(total)
    n = {id(h): np.maximum(1, h.keys_per_query) for h in wl.head_jobs()}
    passes = sum(int(n[id(h)].sum() + n[id(h)][h.requant].sum()) for h in wl.head_jobs())
    assert r1.actions["qxk"]["multiplies"] == passes * D
    kept = sum(int(np.maximum(1, h.v_kept).sum()) for h in wl.head_jobs())
    assert r1.actions["probxv"]["multiplies"] == kept * D
    assert r1.bytes_by_stream["k_lsb"] > 0
    assert r1.layers[-1].end_cycle <= r1.cycles
    assert all(rec.start_cycle <= rec.end_cycle for rec in r1.layers)
