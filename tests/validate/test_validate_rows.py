"""One test per row, against its tolerance or, for a row failing it today, its documented known
state (docs/validation.md, "Known state"): ``pass``; for a failing row, the band its ratio
(ours / paper) is in now; for an info row with a value, the band of that value. A change that moves
a row out of its entry fails CI: either it broke the agreement, or docs/validation.md and this
table must be updated with the reason. Quick-run rows run in the fast suite, the full run's in the
slow one."""

from __future__ import annotations

import pytest

from spatten_sim.validate.rows import RowResult, all_rows
from spatten_sim.validate.runner import Validation, run_validation

PASS = ("pass",)
#: a row that cannot be compared in this run (e.g. a breakdown step a CSV replay cannot change)
NOT_APPLICABLE = ("info",)


def fail(lo: float, hi: float) -> tuple[str, float, float]:
    """A failing row whose ratio is known to lie in [lo, hi]."""
    return ("fail", lo, hi)


def info(lo: float, hi: float) -> tuple[str, float, float]:
    """An info row whose value (ours) lies in [lo, hi]."""
    return ("info", lo, hi)


#: rows of both runs (the same inputs in quick and full)
COMMON = {
    "bound.all_runs": PASS,
    "throughput.encoders": PASS,
    "throughput.gpt2_small_csv": fail(3.0, 3.7),
    "throughput.one_eighth_gops": PASS,
    "throughput.one_eighth_gopj": fail(1.6, 2.4),
    "dram.token.encoders": PASS,
    "dram.head.encoders": PASS,
    "dram.quant.encoders": PASS,
    "dram.overall.encoders": fail(0.5, 0.667),
    "dram.lsb_refetch_csv": info(6.95, 7.05),  # the replay reproduces the file's if_requant
    "power.op.total": PASS,
    "power.op.logic": PASS,
    "power.op.sram": PASS,
    "power.op.dram": PASS,
    "power.op.topk_share": fail(0.25, 0.4),
    "power.bert.total": fail(0.25, 0.42),
    "power.bert.logic": PASS,
    "power.bert.sram": PASS,
    "power.bert.dram": fail(0.12, 0.22),
    "power.bert.topk_share": fail(0.0005, 0.01),
    "power.gpt2.total": fail(0.57, 0.7),
    "power.gpt2.logic": fail(0.22, 0.35),
    "power.gpt2.sram": fail(0.2, 0.3),
    "power.gpt2.dram": PASS,
    "power.gpt2.topk_share": fail(0.03, 0.08),
    "topk_vs_sorter.throughput": fail(1.8, 2.0),
    "topk_vs_sorter.power": fail(0.28, 0.33),
    "topk_vs_sorter.power_at_1_4x": fail(0.58, 0.67),
}

#: decoder-trace rows on the shipped SmolLM2 96+16 trace (quick)
QUICK = {
    **COMMON,
    "breakdown.step2.trace": fail(0.5, 0.65),
    "breakdown.step3.trace": PASS,
    "breakdown.step4.trace": PASS,
    "breakdown.step5.trace": fail(0.3, 0.45),
    "breakdown.topk_bottleneck.trace": PASS,
    "throughput.decoder_trace": PASS,
    "dram.token.decoder": fail(0.5, 0.667),
    "dram.head.decoder": PASS,
    "dram.quant.decoder": PASS,
    "dram.overall.decoder": PASS,
    "dram.lsb_refetch": PASS,
}

#: the full run: decoder-trace rows on SmolLM2 992+32, plus the GPT-2-Medium CSV and DSE rows
FULL = {
    **COMMON,
    "breakdown.step2.trace": PASS,
    "breakdown.step3.trace": PASS,
    "breakdown.step4.trace": fail(2.2, 2.6),
    "breakdown.step2.csv": NOT_APPLICABLE,
    "breakdown.step3.csv": NOT_APPLICABLE,
    "breakdown.step4.csv": fail(1.9, 2.15),
    "breakdown.step5.csv": NOT_APPLICABLE,
    "breakdown.step5.trace": fail(0.3, 0.4),
    "breakdown.topk_bottleneck.trace": PASS,
    "breakdown.topk_bottleneck.csv": PASS,
    "latency.medium.hp_off": fail(1.75, 1.95),
    "latency.medium.hp_on": info(3.6, 3.9),  # ms; below the heads-restored run
    "latency.medium.work": info(3.17, 3.18),  # GFLOP: the dense count of GPT-2-Medium
    "bound.medium": PASS,
    "throughput.gpt2_medium_csv": fail(1.85, 2.1),
    "throughput.decoder_trace": fail(3.7, 4.4),
    "dram.token.decoder": fail(0.5, 0.667),
    "dram.head.decoder": PASS,
    "dram.quant.decoder": PASS,
    "dram.overall.decoder": PASS,
    "dram.lsb_refetch": PASS,
    "dse.comparators": PASS,
    "dse.sram": fail(1.05, 1.2),
}


def check_row(r: RowResult, expect: tuple) -> None:
    assert r.verdict == expect[0], f"{r.key}: {r.verdict} ({r.note})"
    if expect[0] == "fail":
        lo, hi = expect[1], expect[2]
        assert r.ratio is not None and lo <= r.ratio <= hi, f"{r.key}: ratio {r.ratio}"
    elif expect[0] == "info" and len(expect) == 1:
        assert r.ours is None, f"{r.key}: {r.ours}"
    elif expect[0] == "info":
        lo, hi = expect[1], expect[2]
        assert r.ours is not None and lo <= r.ours <= hi, f"{r.key}: ours {r.ours}"


@pytest.mark.parametrize("key", sorted(QUICK))
def test_quick_row(quick_validation: Validation, key: str) -> None:
    check_row(quick_validation.row(key), QUICK[key])


def test_every_quick_row_is_tested(quick_validation: Validation) -> None:
    measured = {r.key for r in all_rows() if r.quick and r.tolerance is not None}
    assert measured <= set(QUICK), sorted(measured - set(QUICK))


def test_full_only_rows_are_info_in_quick(quick_validation: Validation) -> None:
    full_only = {r.key for r in all_rows() if not r.quick}
    assert full_only
    for r in quick_validation.rows:
        if r.key in full_only:
            assert r.verdict == "info" and r.note == "measured in the full run only"


def test_no_run_beats_the_dram_bound(quick_validation: Validation) -> None:
    r = quick_validation.row("bound.all_runs")
    assert r.ours is not None and r.ours >= 1.0
    assert "closest of" in r.note


def test_breakdown_figure_matches_the_step_rows(quick_validation: Validation) -> None:
    cum = quick_validation.breakdown.trace
    assert cum is not None and cum[0] == 1.0
    for step in range(2, 6):
        gain = quick_validation.row(f"breakdown.step{step}.trace").ours
        assert cum[step - 1] / cum[step - 2] == pytest.approx(gain)


def test_power_figure_matches_the_power_rows(quick_validation: Validation) -> None:
    labels = [label for label, _ in quick_validation.power.ours]
    assert labels[0] == "ours: paper's operating point"
    _, op = quick_validation.power.ours[0]
    for part, value in zip(("logic", "sram", "dram"), op, strict=True):
        assert quick_validation.row(f"power.op.{part}").ours == pytest.approx(value)
    assert len(quick_validation.power.ours) == 3  # + BERT-like trace, GPT-2-Small CSV


def test_power_split_adds_up(quick_validation: Validation) -> None:
    for which in ("op", "bert", "gpt2"):
        total = quick_validation.row(f"power.{which}.total").ours
        parts = [quick_validation.row(f"power.{which}.{p}").ours for p in ("logic", "sram", "dram")]
        assert sum(parts) == pytest.approx(total, rel=1e-9)


# ---------------------------------------------------------------------------------- full run
@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(FULL))
def test_full_row(full_validation: Validation, key: str) -> None:
    check_row(full_validation.row(key), FULL[key])


@pytest.mark.slow
def test_every_full_row_is_tested(full_validation: Validation) -> None:
    judged = {r.key for r in all_rows() if r.tolerance is not None}
    assert judged <= set(FULL), sorted(judged - set(FULL))


@pytest.mark.slow
def test_full_run_uses_the_992_token_trace(full_validation: Validation) -> None:
    assert "992+32" in full_validation.row("dram.lsb_refetch").note


@pytest.mark.slow
def test_head_pruning_direction(full_validation: Validation) -> None:
    on = full_validation.row("latency.medium.hp_on").ours
    off = full_validation.row("latency.medium.hp_off").ours
    assert on is not None and off is not None and on < off


@pytest.mark.slow
def test_sweep_figure_matches_the_dse_row(full_validation: Validation) -> None:
    sw = full_validation.sweep
    assert sw.speedup is not None and sw.speedup[0] == 1.0
    best = sw.speedup[-1]
    sat = min(c for c, s in zip(sw.comparators, sw.speedup, strict=True) if s >= best / 1.02)
    assert sat == full_validation.row("dse.comparators").ours


@pytest.mark.slow
def test_parallel_equals_serial() -> None:
    # a decoder-trace row and a CSV row: two work groups, simulated in two processes
    keys = ("dram.lsb_refetch", "throughput.gpt2_small_csv")
    serial = run_validation(quick=True, only=lambda s: s.key in keys, figures=False)
    par = run_validation(quick=True, only=lambda s: s.key in keys, figures=False, jobs=2)
    assert [(r.ours, r.verdict) for r in serial.rows] == [(r.ours, r.verdict) for r in par.rows]
