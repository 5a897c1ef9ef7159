"""The validation rows: each published figure we can reach, its tolerance and why.

A row is a :class:`RowSpec`: the quantity, its unit, the paper's value (docs/spatten.md §4 unless the
note says otherwise), how ours is computed (a function of :mod:`spatten_sim.validate.measures`), and
a :class:`Tolerance` on ``ratio = ours / paper`` with its rationale. A row without a tolerance is
``info``: shown, never judged. Tolerances are fixed here, before any measurement, by the kind of
comparison (the same workload file, our own traces, model-vs-model), never widened to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from spatten_sim.validate import measures as m
from spatten_sim.validate.context import GPT2_MEDIUM_CSV, GPT2_SMALL_CSV, Context

Verdict = str  #: "pass" | "fail" | "info"


@dataclass(frozen=True)
class Tolerance:
    """Accepted band of ``ours / paper`` (either bound may be open), and why this band."""

    lo: float | None
    hi: float | None
    why: str

    def holds(self, ratio: float) -> bool:
        return (self.lo is None or ratio >= self.lo) and (self.hi is None or ratio <= self.hi)

    def text(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"ratio {self.lo:.3g}-{self.hi:.3g}"
        if self.lo is not None:
            return f"ratio >= {self.lo:.3g}"
        return f"ratio <= {self.hi:.3g}"


# The tolerance classes (docs/validation.md explains each).
#: the authors' own workload file, replayed: only the timing/energy model differs from theirs
SAME_WORKLOAD = Tolerance(
    0.8, 1.25, "same workload file as the paper; only our timing model differs from their RTL"
)
#: our traces of other models (SmolLM2, MiniLM, MPNet) against the paper's GPT-2/BERT averages
OWN_TRACES = Tolerance(
    1 / 1.5,
    1.5,
    "our traces are SmolLM2/MiniLM/MPNet, not GPT-2/BERT: pruning, lengths and head sizes differ",
)
#: a rate of rare events (threshold crossings, a 1 % power share): a factor of 2 either way
RARE_RATE = Tolerance(0.5, 2.0, "a rate of rare, data/technology-dependent events")
#: two cycle/operation-count models of the same task
MODEL_VS_MODEL = Tolerance(0.8, 1.25, "our cycle model of both circuits vs their synthesis")
#: our default energy table vs their synthesis + CACTI + HBM figures
ENERGY_TOTAL = Tolerance(0.7, 1.43, "our literature energy table vs their synthesis/CACTI/HBM")
ENERGY_PART = Tolerance(0.5, 2.0, "one component of our energy table vs their synthesis/CACTI/HBM")
#: a sweep over powers of two: one step either side
SWEEP_STEP = Tolerance(0.5, 2.0, "the sweep moves in powers of two: one step either side")
#: "larger SRAM gives almost no speedup"
NO_GAIN = Tolerance(0.95, 1.05, "'almost no speedup': within 5 %")
#: a hard physical bound: no run may beat the DRAM bandwidth
HARD_BOUND = Tolerance(1.0, None, "hard check: cycles can never be below bytes / peak bandwidth")
#: the paper says top-k is the bottleneck with one comparator: it must be the busiest unit
BUSIEST = Tolerance(1.0, None, "the paper: with one comparator top-k is the bottleneck")


@dataclass(frozen=True)
class RowSpec:
    """One row of the validation table."""

    key: str  #: stable identifier (tests and figures refer to rows by it)
    group: str
    quantity: str
    unit: str
    paper: float | None
    measure: Callable[[Context], m.Measured]
    tolerance: Tolerance | None  #: None: an ``info`` row
    quick: bool = True  #: computed in --quick mode too
    source: str = "[P]"  #: where the paper value comes from
    after_all: bool = False  #: measured after every other row (it looks at all their runs)


@dataclass(frozen=True)
class RowResult:
    """One measured row, as printed and written (JSON keys: see :meth:`to_dict`)."""

    key: str
    group: str
    quantity: str
    unit: str
    paper: float | None
    ours: float | None
    ratio: float | None
    tolerance: str
    verdict: Verdict
    note: str
    #: why a row this mode promises could not be computed (an input or module missing, the
    #: simulator refused); empty when it was computed or is not promised in this mode
    missing: str = ""

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            "paper": self.paper,
            "ours": self.ours,
            "ratio": self.ratio,
            "tolerance": self.tolerance,
            "verdict": self.verdict,
            "note": self.note,
            "key": self.key,
            "group": self.group,
            "missing": self.missing,
        }


def judge(spec: RowSpec, got: m.Measured) -> RowResult:
    """The verdict of one row from its measurement."""
    ratio = None
    if got.ours is not None and spec.paper:
        ratio = got.ours / spec.paper
    tol = spec.tolerance
    note = got.note
    if tol is None:
        verdict, tol_text = "info", "-"
    else:
        tol_text = f"{tol.text()} ({tol.why})"
        if ratio is None:
            verdict = "info"
        else:
            verdict = "pass" if tol.holds(ratio) else "fail"
    return RowResult(
        key=spec.key,
        group=spec.group,
        quantity=spec.quantity,
        unit=spec.unit,
        paper=spec.paper,
        ours=got.ours,
        ratio=ratio,
        tolerance=tol_text,
        verdict=verdict,
        note=note,
    )


def _breakdown_rows() -> list[RowSpec]:
    rows = [
        RowSpec(
            "breakdown.dedicated_vs_gpu",
            "GPT-2 breakdown",
            "dedicated datapath vs TITAN Xp GPU",
            "x",
            22.1,
            lambda ctx: m.Measured(None, "not modelled: no GPU baseline in the simulator"),
            None,
        )
    ]
    for step, paper in zip(range(2, 6), (1.1, 1.1, 3.0, 2.8), strict=True):
        name = m.STEP_NAMES[step - 1]
        rows.append(
            RowSpec(
                f"breakdown.step{step}.trace",
                "GPT-2 breakdown",
                f"step gain {name} (decoder trace)",
                "x",
                paper,
                partial(m.breakdown_gain, step=step, source="trace"),
                OWN_TRACES,
            )
        )
        rows.append(
            RowSpec(
                f"breakdown.step{step}.csv",
                "GPT-2 breakdown",
                f"step gain {name} (GPT-2-Medium CSV)",
                "x",
                paper,
                partial(m.breakdown_gain, step=step, source="csv"),
                SAME_WORKLOAD,
                quick=False,
            )
        )
    for source, label, quick in (
        ("trace", "decoder trace", True),
        ("csv", "GPT-2-Medium CSV", False),
    ):
        rows.append(
            RowSpec(
                f"breakdown.topk_bottleneck.{source}",
                "GPT-2 breakdown",
                f"1-comparator top-k busy / busiest other unit ({label})",
                "x",
                1.0,
                partial(m.topk_bottleneck, source=source),
                BUSIEST,
                quick=quick,
                source="[P] top-k is the bottleneck",
            )
        )
    return rows


def _latency_rows() -> list[RowSpec]:
    return [
        RowSpec(
            "latency.medium.hp_off",
            "GPT-2-Medium latency",
            "attention, 32 generated tokens, heads restored (compares)",
            "ms",
            2.13,
            partial(m.medium_latency_ms, head_pruning=False),
            SAME_WORKLOAD,
            quick=False,
            source="[P] end-to-end GPT-2-Medium, head pruning off",
        ),
        RowSpec(
            "latency.medium.hp_on",
            "GPT-2-Medium latency",
            "attention, 32 generated tokens, heads as recorded",
            "ms",
            2.13,
            partial(m.medium_latency_ms, head_pruning=True),
            None,
            quick=False,
            source="[P] (measured with head pruning off: not the same setting)",
        ),
        RowSpec(
            "latency.medium.work",
            "GPT-2-Medium latency",
            "attention work, 32 generated tokens",
            "GFLOP",
            0.9,
            m.medium_attention_gflop,
            None,
            quick=False,
            source="[P] (counting convention not stated)",
        ),
        RowSpec(
            "bound.medium",
            "DRAM bound",
            "GPT-2-Medium latency / DRAM bound (bytes / 512 GB/s)",
            "x",
            1.0,
            m.medium_over_bound,
            HARD_BOUND,
            quick=False,
            source="physics",
        ),
        RowSpec(
            "bound.all_runs",
            "DRAM bound",
            "min over all runs of cycles / DRAM-bound cycles",
            "x",
            1.0,
            m.all_runs_over_bound,
            HARD_BOUND,
            source="physics",
            after_all=True,
        ),
    ]


def _throughput_rows() -> list[RowSpec]:
    return [
        RowSpec(
            "throughput.encoders",
            "throughput",
            "effective throughput, encoder traces",
            "TFLOPS",
            1.61,
            m.encoder_tflops,
            OWN_TRACES,
        ),
        RowSpec(
            "throughput.gpt2_small_csv",
            "throughput",
            "effective throughput, GPT-2-Small CSV generation",
            "TFLOPS",
            0.43,
            partial(m.official_generation_tflops, name=GPT2_SMALL_CSV),
            SAME_WORKLOAD,
        ),
        RowSpec(
            "throughput.gpt2_medium_csv",
            "throughput",
            "effective throughput, GPT-2-Medium CSV generation",
            "TFLOPS",
            0.43,
            partial(m.official_generation_tflops, name=GPT2_MEDIUM_CSV),
            SAME_WORKLOAD,
            quick=False,
        ),
        RowSpec(
            "throughput.decoder_trace",
            "throughput",
            "effective throughput, decoder-trace generation",
            "TFLOPS",
            0.43,
            m.trace_generation_tflops,
            OWN_TRACES,
        ),
        RowSpec(
            "throughput.one_eighth_gops",
            "throughput",
            "SpAtten_1/8 effective throughput, encoder traces",
            "GOP/s",
            360.0,
            partial(m.one_eighth, key="gops_effective"),
            OWN_TRACES,
        ),
        RowSpec(
            "throughput.one_eighth_gopj",
            "throughput",
            "SpAtten_1/8 energy efficiency, encoder traces",
            "GOP/J",
            382.0,
            partial(m.one_eighth, key="gops_per_joule_effective"),
            OWN_TRACES,
        ),
    ]


def _dram_rows() -> list[RowSpec]:
    rows = []
    factors = (
        ("token", "token + local-V pruning", 1.9, 3.8),
        ("head", "head pruning", 1.1, 1.1),
        ("quant", "quantization vs fp32", 5.1, 5.1),
        ("overall", "overall vs dense fp32", 10.0, 10.0),
    )
    for factor, label, paper_enc, paper_dec in factors:
        rows.append(
            RowSpec(
                f"dram.{factor}.encoders",
                "DRAM reduction",
                f"{label}, encoder traces",
                "x",
                paper_enc,
                partial(m.dram_factor, factor=factor, which="encoders"),
                OWN_TRACES,
                source="[P] average over the 30 benchmarks",
            )
        )
        rows.append(
            RowSpec(
                f"dram.{factor}.decoder",
                "DRAM reduction",
                f"{label}, decoder trace",
                "x",
                paper_dec,
                partial(m.dram_factor, factor=factor, which="decoders"),
                OWN_TRACES,
                source="[P] GPT-2 average" if factor == "token" else "[P] 30-benchmark average",
            )
        )
    rows += [
        RowSpec(
            "dram.lsb_refetch",
            "DRAM reduction",
            "queries re-fetching LSBs, decoder trace",
            "%",
            5.9,
            m.lsb_refetch_fraction,
            RARE_RATE,
        ),
        RowSpec(
            "dram.lsb_refetch_csv",
            "DRAM reduction",
            "queries re-fetching LSBs, GPT-2-Small CSV replay",
            "%",
            7.0,
            m.official_refetch_fraction,
            None,
            source="[D] docs/spatten.md §2",
        ),
    ]
    return rows


def _power_rows() -> list[RowSpec]:
    rows = []
    parts = (
        ("total", "total power", 8.30, ENERGY_TOTAL, "W"),
        ("logic", "logic power", 1.36, ENERGY_PART, "W"),
        ("sram", "SRAM power", 1.24, ENERGY_PART, "W"),
        ("dram", "DRAM power", 5.71, ENERGY_PART, "W"),
        ("topk_share", "top-k engines' share of power", 1.0, RARE_RATE, "%"),
    )
    sources = (
        ("op", "paper's operating point"),
        ("bert", "BERT-like trace"),
        ("gpt2", "GPT-2-Small CSV"),
    )
    for which, label in sources:
        for part, q, paper, tol, unit in parts:
            rows.append(
                RowSpec(
                    f"power.{which}.{part}",
                    "power",
                    f"{q}, {label}",
                    unit,
                    paper,
                    partial(m.power_component, which=which, part=part),
                    tol,
                )
            )
    return rows


def _topk_rows() -> list[RowSpec]:
    return [
        RowSpec(
            "topk_vs_sorter.throughput",
            "top-k vs sorter",
            "engine throughput / Batcher sorter (equal comparators)",
            "x",
            1.4,
            m.sorter_throughput,
            MODEL_VS_MODEL,
        ),
        RowSpec(
            "topk_vs_sorter.power",
            "top-k vs sorter",
            "sorter power / engine power (equal comparators)",
            "x",
            3.5,
            m.sorter_power,
            MODEL_VS_MODEL,
        ),
        RowSpec(
            "topk_vs_sorter.power_at_1_4x",
            "top-k vs sorter",
            "sorter power / engine power (sorter sized to 1.4x)",
            "x",
            3.5,
            m.sorter_power_at_paper_throughput,
            MODEL_VS_MODEL,
        ),
    ]


def _dse_rows() -> list[RowSpec]:
    return [
        RowSpec(
            "dse.comparators",
            "design space",
            "top-k comparators where generation saturates",
            "comparators",
            16.0,
            m.saturation_comparators,
            SWEEP_STEP,
            quick=False,
        ),
        RowSpec(
            "dse.sram",
            "design space",
            "speedup from a K/V SRAM larger than 196 KB",
            "x",
            1.0,
            m.sram_gain_above_paper,
            NO_GAIN,
            quick=False,
        ),
    ]


def all_rows() -> tuple[RowSpec, ...]:
    """Every row, in table order."""
    return tuple(
        _breakdown_rows()
        + _latency_rows()
        + _throughput_rows()
        + _dram_rows()
        + _power_rows()
        + _topk_rows()
        + _dse_rows()
    )
