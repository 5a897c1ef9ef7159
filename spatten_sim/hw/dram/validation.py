"""Validation scenarios: the reference measurements of docs/dram-reference-numbers.md, re-run on our model.

Each :class:`Scenario` fixes the five knobs the references disagree on (channel mode, timing
preset, burst occupancy -- all three in the preset --, address mapping, request size) plus the
issue protocol, and carries the figures a reference simulator measured with them. :func:`run`
measures ours. The tests (tests/hw/dram/test_dram_reference.py), docs/dram-validation.md and
plots/dram_latency_bandwidth.py all use this table.

``matches`` says whether the scenario is expected within the issue's tolerances (bandwidth 10%,
mean latency 15%); when False, ``why`` says why it cannot be matched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatten_sim.hw.dram.bench import pattern_addresses, run_bench
from spatten_sim.hw.dram.config import DramConfig
from spatten_sim.hw.dram.model import DramMemory, FrontendLimits
from spatten_sim.hw.dram.presets import DRAM_PRESETS

BW_TOLERANCE = 0.10
LATENCY_TOLERANCE = 0.15
#: Ramulator 2.1's pass-through streaming mapping: PC and bank group below the column
STREAM_MAPPING = "RoBkCoBgPcCh"


@dataclass(frozen=True)
class Scenario:
    key: str
    source: str  #: the reference simulator
    label: str
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)
    pattern: str = "seq"  #: seq, random, or "probe" (loaded latency: stream + random probe)
    requests: int = 100_000
    outstanding: int = 0
    issue_per_cycle: int = 0
    rate_gbps: float = 0.0  #: offered stream rate (probe scenarios)
    ref_bandwidth_gbps: float | None = None
    ref_latency_ns: float | None = None
    matches: bool = True
    why: str = ""

    def config(self) -> DramConfig:
        return dataclasses.replace(DRAM_PRESETS[self.preset], **self.overrides).validate()


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    bandwidth_gbps: float
    latency_ns: float
    row_hits: int
    row_misses: int
    row_conflicts: int

    @property
    def bandwidth_error(self) -> float | None:
        ref = self.scenario.ref_bandwidth_gbps
        return None if ref is None else self.bandwidth_gbps / ref - 1.0

    @property
    def latency_error(self) -> float | None:
        ref = self.scenario.ref_latency_ns
        return None if ref is None else self.latency_ns / ref - 1.0

    @property
    def within_tolerance(self) -> bool:
        be, le = self.bandwidth_error, self.latency_error
        return (be is None or abs(be) <= BW_TOLERANCE) and (
            le is None or abs(le) <= LATENCY_TOLERANCE
        )


_R21_1CH = {"channels": 1, "mapping": STREAM_MAPPING, "refresh": False}
_R21_CURVE = [
    (0.77, 45.2),
    (3.89, 46.2),
    (8.68, 47.0),
    (13.47, 47.5),
    (18.95, 48.3),
    (21.98, 49.4),
    (26.25, 49.4),
    (32.0, 98.5),
]
_R20A_8CH = {"channels": 8, "max_outstanding_per_channel": 0}
_WHY_R20A_FRESH = (
    "2.0a's figure equals the all-row-conflict closed form exactly (nRP+nRCD+nCL+nBL = 25), so "
    "its run never found a bank closed; ours closes every bank at each all-bank refresh "
    "(docs/hbm2-facts.md §3) and with one request in flight most requests then find a closed bank "
    "(row miss, 18 cycles): lower latency, higher bandwidth"
)


def scenarios() -> list[Scenario]:
    """The reference rows of docs/dram-reference-numbers.md, in its order."""
    out: list[Scenario] = [
        Scenario(
            "r21-unloaded",
            "Ramulator 2.1",
            "1 ch, unloaded random read",
            "hbm2",
            _R21_1CH,
            pattern="random",
            requests=2000,
            outstanding=1,
            ref_latency_ns=45.1,
        ),
        Scenario(
            "r21-stream",
            "Ramulator 2.1",
            "1 ch, streaming, pass-through mapping",
            "hbm2",
            _R21_1CH,
            pattern="seq",
            requests=100_000,
            ref_bandwidth_gbps=32.0,
        ),
    ]
    for rate, lat in _R21_CURVE:
        saturated = rate >= 32.0
        out.append(
            Scenario(
                f"r21-curve-{rate:g}", "Ramulator 2.1",
                f"1 ch, loaded latency at {rate:g} GB/s", "hbm2", _R21_1CH, pattern="probe",
                requests=60_000, rate_gbps=rate, ref_bandwidth_gbps=rate, ref_latency_ns=lat,
                matches=not saturated,
                why=(
                    "offered load = peak: the latency is that of a saturated queue and depends "
                    "on how the reference generator keeps it filled (not documented); every "
                    "point below saturation matches"
                    if saturated else ""
                ),
            )
        )  # fmt: skip
    out += [
        Scenario(
            "r21-8ch-seq", "Ramulator 2.1", "8 ch, sequential, 16 issued/cycle", "hbm2",
            {"channels": 8}, pattern="seq", requests=200_000, issue_per_cycle=16,
            ref_bandwidth_gbps=130.0, ref_latency_ns=79.0,
        ),
        Scenario(
            "r21-8ch-random", "Ramulator 2.1", "8 ch, uniform random, 16 issued/cycle", "hbm2",
            {"channels": 8}, pattern="random", requests=200_000, issue_per_cycle=16,
            ref_bandwidth_gbps=71.9, ref_latency_ns=103.0,
        ),
        Scenario(
            "r21-16ch-random-1", "Ramulator 2.1", "16 ch, random, 1 outstanding", "hbm2",
            {"channels": 16}, pattern="random", requests=50_000, outstanding=1,
            ref_latency_ns=36.6,
        ),
    ]  # fmt: skip
    r20a = [
        ("seq", 1, 2.6, 11.4),
        ("random", 1, 1.2, 25.0),
        ("seq", 16, 39.8, 11.9),
        ("random", 16, 18.7, 26.4),
        ("seq", 64, 66.2, 29.9),
        ("random", 64, 56.1, 35.5),
        ("seq", 0, 126.9, 76.7),
        ("random", 0, 66.2, 80.8),
    ]
    r20a_why = {
        ("random", 1): _WHY_R20A_FRESH,
        ("random", 0): (
            "cause not identified: bandwidth +13.5% while latency is within 7%; the other 2.0a "
            "random rows (16 and 64 outstanding) match, so the difference appears only when the "
            "32-entry buffers are full, where 2.0a's scheduling details (not in docs/hbm2-facts.md) "
            "decide the order"
        ),
    }
    for pat, outst, bw, lat in r20a:
        key = (pat, outst)
        out.append(
            Scenario(
                f"r20a-8ch-{pat}-{outst or 'unl'}", "Ramulator 2.0a",
                f"8 ch, {pat}, {outst or 'unlimited'} outstanding", "hbm2-spatten-rtl",
                _R20A_8CH, pattern=pat, requests=100_000, outstanding=outst,
                ref_bandwidth_gbps=bw, ref_latency_ns=lat,
                matches=key not in r20a_why, why=r20a_why.get(key, ""),
            )
        )  # fmt: skip
    out += [
        Scenario(
            "r20a-1ch-seq-16", "Ramulator 2.0a", "1 ch as SpAtten's RTL flow, seq, 16 outstanding",
            "hbm2-spatten-rtl", {"channels": 1}, pattern="seq", requests=50_000,
            outstanding=16, ref_bandwidth_gbps=12.8, matches=False,
            why=(
                "cause not identified: 12.8 GB/s with 16 in flight means a 40 ns mean latency in "
                "2.0a, ours is 46 ns; 2.0a's 16-B transaction unit (a 32-B request touches every "
                "other column) and its un-adjusted 2-cycle ACT are the candidates; the unlimited "
                "row below matches"
            ),
        ),
        Scenario(
            "r20a-1ch-seq-unl", "Ramulator 2.0a", "1 ch, seq, unlimited outstanding",
            "hbm2-spatten-rtl", {"channels": 1, "max_outstanding_per_channel": 0},
            pattern="seq", requests=50_000, ref_bandwidth_gbps=16.0,
        ),
    ]  # fmt: skip
    ds3 = [
        ("seq", 1, 3.2, 18.9),
        ("random", 1, 1.6, 38.2),
        ("seq", 16, 29.6, 33.6),
        ("random", 16, 19.6, 51.2),
        ("seq", 64, 73.2, 55.0),
        ("random", 64, 52.5, 77.0),
        ("seq", 0, 236.7, 84.8),
        ("random", 0, 61.4, 432.0),
    ]
    ctrl = (
        "DRAMsim3's controller is not Ramulator's (docs/hbm2-facts.md §5: per-bank command queues of 8 "
        "behind a 32-entry transaction queue); the preset pairs its device with our FR-FCFS "
        "controller. "
    )
    rand_lat = ctrl + (
        "Random reads: DRAMsim3's 1-outstanding latency (38.2 ns) lies between its row-miss (30) "
        "and row-conflict (44) closed forms, i.e. it finds more banks open; ours finds 90% of "
        "them closed (each all-bank refresh closes every bank and one request in flight touches "
        "~110 of 512 banks between refreshes), so our latency is lower and, by Little's law "
        "with a fixed number in flight, our bandwidth higher"
    )
    ds3_why = {
        ("random", 1): rand_lat,
        ("random", 16): rand_lat,
        ("random", 64): rand_lat,
        ("seq", 0): ctrl
        + (
            "Bandwidth matches; by Little's law DRAMsim3 kept ~39 requests per channel in "
            "flight (29.6 GB/s x 84.8 ns / 64 B) against the 32 our read buffer holds, so its "
            "requests queue longer"
        ),
        ("random", 0): (
            "DRAMsim3's 61.4 GB/s is its trace frontend's limit of one 64-B request per cycle "
            "(64 GB/s; with --issue-per-cycle 1 we measure 62.1 GB/s), but its sequential "
            "unlimited row (236.7 GB/s) exceeds that limit, so the two rows were not measured "
            "with the same frontend and no single setting reproduces both; the 432 ns is the "
            "queueing behind that frontend"
        ),
    }
    for pat, outst, bw, lat in ds3:
        key = (pat, outst)
        out.append(
            Scenario(
                f"ds3-{pat}-{outst or 'unl'}", "DRAMsim3",
                f"8 x 128-bit ch, {pat}, 64 B, {outst or 'unlimited'} outstanding",
                "hbm2-legacy", {}, pattern=pat, requests=100_000, outstanding=outst,
                ref_bandwidth_gbps=bw, ref_latency_ns=lat,
                matches=key not in ds3_why, why=ds3_why.get(key, ""),
            )
        )  # fmt: skip
    return out


def run(sc: Scenario, requests: int | None = None) -> Outcome:
    """Measure ``sc`` on our model (``requests`` overrides the scenario's count)."""
    cfg = sc.config()
    n = requests or sc.requests
    if sc.pattern == "probe":
        bw, lat, st = loaded_latency(cfg, sc.rate_gbps, n)
        return Outcome(sc, bw, lat, st["row_hits"], st["row_misses"], st["row_conflicts"])
    addrs, _ = pattern_addresses(sc.pattern, n, cfg, seed=0)
    r = run_bench(
        cfg, addrs, outstanding=sc.outstanding, issue_per_cycle=sc.issue_per_cycle,
        pattern=sc.pattern,
    )  # fmt: skip
    return Outcome(sc, r.bandwidth_gbps, r.avg_latency_ns, r.row_hits, r.row_misses,
                   r.row_conflicts)  # fmt: skip


def loaded_latency(
    cfg: DramConfig,
    rate_gbps: float,
    stream_requests: int,
    probe_every_cycles: int = 400,
    seed: int = 1,
) -> tuple[float, float, dict[str, Any]]:
    """Loaded latency: a sequential stream offered at ``rate_gbps`` plus a random-address probe
    every ``probe_every_cycles`` cycles; returns (GB/s achieved by the stream, mean probe latency
    in ns, stats). Below saturation the stream achieves its set point, so on this curve the
    comparison with a reference is on latency.

    This is how a latency-vs-bandwidth curve is measured (a latency probe beside a bandwidth
    generator); the probe's unloaded latency is the row-conflict latency.
    """  # fmt: skip
    rb = cfg.request_bytes
    arr_s = np.floor(np.arange(stream_requests) * rb / (rate_gbps * cfg.tck_ns)).astype(np.int64)
    addr_s = np.arange(stream_requests, dtype=np.int64) * rb
    arr_p = np.arange(probe_every_cycles // 2, int(arr_s[-1]), probe_every_cycles, dtype=np.int64)
    rng = np.random.default_rng(seed)
    lo = int(addr_s[-1]) + rb  # probes never hit the stream's rows by construction
    addr_p = rng.integers(lo // rb, (lo // rb) * 64, size=arr_p.size, dtype=np.int64) * rb
    arrival = np.concatenate([arr_s, arr_p])
    addrs = np.concatenate([addr_s, addr_p])
    is_probe = np.concatenate([np.zeros(arr_s.size, bool), np.ones(arr_p.size, bool)])
    order = np.argsort(arrival, kind="stable")
    mem = DramMemory(cfg)
    bt = mem.run_batch(addrs[order], arrival[order], None, FrontendLimits(in_order=True,
                                                                          fifo_depth=0))  # fmt: skip
    probe = is_probe[order]
    lat = (bt.done - bt.accept)[probe]
    done_s = bt.done[~probe]
    bw = done_s.size * rb / (int(done_s.max()) * cfg.tck_ns)
    return bw, float(lat.mean()) * cfg.tck_ns, mem.stats()


def markdown_table(outcomes: list[Outcome]) -> str:
    """The validation table of docs/dram-validation.md."""

    def pct(x: float | None) -> str:
        return "" if x is None else f"{x:+.1%}"

    def num(x: float | None, fmt: str) -> str:
        return "" if x is None else format(x, fmt)

    lines = [
        "| row | reference | scenario | ref GB/s | ours GB/s | err | ref ns | ours ns | err "
        "| within tol. |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        s = o.scenario
        ok = "yes" if o.within_tolerance else ("no (see below)" if not s.matches else "**NO**")
        lines.append(
            f"| {s.key} | {s.source} | {s.label} | {num(s.ref_bandwidth_gbps, '.2f')} | "
            f"{o.bandwidth_gbps:.2f} | {pct(o.bandwidth_error)} | "
            f"{num(s.ref_latency_ns, '.1f')} | {o.latency_ns:.1f} | {pct(o.latency_error)} | {ok} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m spatten_sim.hw.dram.validation
    results = [run(s) for s in scenarios()]
    print(markdown_table(results))
    print()
    for o in results:
        if not o.scenario.matches:
            print(f"* **{o.scenario.key}**: {o.scenario.why}.")
