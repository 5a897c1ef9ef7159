"""Run the validation rows (quick or full) and collect the results and the figures' data."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from spatten_sim.errors import SpattenError
from spatten_sim.validate import measures as m
from spatten_sim.validate.context import Context, NotRun
from spatten_sim.validate.rows import RowResult, RowSpec, all_rows, judge


@dataclass(frozen=True)
class BreakdownData:
    """Cumulative speedup of each ablation step over step 1, per source (None: not run)."""

    steps: tuple[str, ...]
    paper: tuple[float, ...]
    trace: tuple[float, ...] | None
    csv: tuple[float, ...] | None


@dataclass(frozen=True)
class SweepData:
    """Top-k comparator sweep: speedup over 1 comparator per comparator count."""

    comparators: tuple[int, ...]
    speedup: tuple[float, ...] | None
    paper_saturation: int


@dataclass(frozen=True)
class PowerData:
    """Power split in W (logic, SRAM, DRAM) of the paper and of our runs."""

    labels: tuple[str, ...]
    paper: tuple[float, ...]
    ours: tuple[tuple[str, tuple[float, ...]], ...]


@dataclass(frozen=True)
class Validation:
    """A finished validation run."""

    mode: str  #: "quick" or "full"
    rows: tuple[RowResult, ...]
    breakdown: BreakdownData
    sweep: SweepData
    power: PowerData
    wall_seconds: float


#: the paper's cumulative GPT-2 speedups over the dedicated datapath (x1.1, x1.1, x3, x2.8)
PAPER_CUMULATIVE = (1.0, 1.1, 1.1 * 1.1, 1.1 * 1.1 * 3.0, 1.1 * 1.1 * 3.0 * 2.8)
PAPER_POWER_W = (1.36, 1.24, 5.71)


def measure_row(spec: RowSpec, ctx: Context) -> RowResult:
    """Measure and judge one row; a missing input or module makes it ``info`` with a note."""
    try:
        got = spec.measure(ctx)
    except m.MissingInput as exc:
        got = m.Measured(None, f"input missing: {exc}")
    except ModuleNotFoundError as exc:
        got = m.Measured(None, f"not available yet: module {exc.name} is missing")
    except SpattenError as exc:
        got = m.Measured(None, f"simulator refused: {exc}")
    return judge(spec, got)


def _safe(fn: Callable[[], object]) -> object | None:
    try:
        return fn()
    except (m.MissingInput, NotRun, ModuleNotFoundError, SpattenError):
        return None


def figure_data(ctx: Context) -> tuple[BreakdownData, SweepData, PowerData]:
    """The figures' data, from the simulations the rows ran (cached in ``ctx``)."""
    trace = _safe(lambda: tuple(m.cumulative_speedups(ctx, "trace")))
    csv = _safe(lambda: tuple(m.cumulative_speedups(ctx, "csv")))
    breakdown = BreakdownData(m.STEP_NAMES, PAPER_CUMULATIVE, trace, csv)  # type: ignore[arg-type]
    sweep = _safe(lambda: m.comparator_sweep(ctx))
    speed = None
    if isinstance(sweep, dict):
        one = sweep[m.COMPARATOR_SWEEP[0]]
        speed = tuple(one / sweep[p] for p in m.COMPARATOR_SWEEP)
    sweep_data = SweepData(m.COMPARATOR_SWEEP, speed, 16)
    ours = []
    op = _safe(m.operating_point_split)
    if isinstance(op, dict):
        ours.append(("ours: paper's operating point", (op["logic"], op["sram"], op["dram"])))
    for which, label in (("bert", "BERT-like trace"), ("gpt2", "GPT-2-Small CSV")):
        rep = _safe(lambda w=which: m.power_report(ctx, w))
        if rep is not None:
            s = m.power_split(rep)
            ours.append((f"ours: {label}", (s["logic"], s["sram"], s["dram"])))
    power = PowerData(("logic", "SRAM", "DRAM"), PAPER_POWER_W, tuple(ours))
    return breakdown, sweep_data, power


def run_validation(
    quick: bool = True,
    progress: Callable[[str], None] | None = None,
    only: Callable[[RowSpec], bool] | None = None,
    figures: bool = True,
) -> Validation:
    """Measure every row (``quick``: shipped traces and official CSVs only); ``only`` selects
    rows, ``figures=False`` skips the simulations only the figures need."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    ctx = Context(quick=quick, progress=say)
    specs = [s for s in all_rows() if only is None or only(s)]
    results: dict[str, RowResult] = {}
    for spec in sorted(specs, key=lambda s: s.after_all):
        if quick and not spec.quick:
            results[spec.key] = judge(spec, m.Measured(None, "measured in the full run only"))
            continue
        say(f"row {spec.key}")
        results[spec.key] = measure_row(spec, ctx)
    rows = tuple(results[s.key] for s in specs)
    if figures:
        ctx.cached_only = only is not None  # a partial run draws only what its rows ran
        breakdown, sweep, power = figure_data(ctx)
    else:
        breakdown = BreakdownData(m.STEP_NAMES, PAPER_CUMULATIVE, None, None)
        sweep = SweepData(m.COMPARATOR_SWEEP, None, 16)
        power = PowerData(("logic", "SRAM", "DRAM"), PAPER_POWER_W, ())
    return Validation(
        mode="quick" if quick else "full",
        rows=rows,
        breakdown=breakdown,
        sweep=sweep,
        power=power,
        wall_seconds=time.perf_counter() - t0,
    )
