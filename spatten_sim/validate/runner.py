"""Run the validation rows (quick or full) and collect the results and the figures' data."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

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

    def row(self, key: str) -> RowResult:
        """The row with this key (KeyError if this run has none)."""
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)


#: the paper's cumulative GPT-2 speedups over the dedicated datapath (x1.1, x1.1, x3, x2.8)
PAPER_CUMULATIVE = (1.0, 1.1, 1.1 * 1.1, 1.1 * 1.1 * 3.0, 1.1 * 1.1 * 3.0 * 2.8)
PAPER_POWER_W = (1.36, 1.24, 5.71)


def measure_row(spec: RowSpec, ctx: Context) -> RowResult:
    """Measure and judge one row; a missing input or module makes it ``info`` with a note, and
    sets :attr:`RowResult.missing` (``validate`` reports those rows and exits 3)."""
    try:
        got = spec.measure(ctx)
    except m.MissingInput as exc:
        why = f"input missing: {exc}"
    except NotRun as exc:
        why = f"not run: {exc}"
    except ModuleNotFoundError as exc:
        why = f"module {exc.name} is missing"
    except SpattenError as exc:
        why = f"simulator refused: {exc}"
    else:
        return judge(spec, got)
    return dataclasses.replace(judge(spec, m.Measured(None, why)), missing=why)


_T = TypeVar("_T")


def _safe(fn: Callable[[], _T]) -> _T | None:
    try:
        return fn()
    except (m.MissingInput, NotRun, ModuleNotFoundError, SpattenError):
        return None


def figure_data(ctx: Context) -> tuple[BreakdownData, SweepData, PowerData]:
    """The figures' data, from the simulations the rows ran (cached in ``ctx``)."""
    trace = _safe(lambda: tuple(m.cumulative_speedups(ctx, "trace")))
    csv = _safe(lambda: tuple(m.cumulative_speedups(ctx, "csv")))
    breakdown = BreakdownData(m.STEP_NAMES, PAPER_CUMULATIVE, trace, csv)
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
        rep = _safe(partial(m.power_report, ctx, which))
        if rep is not None:
            s = m.power_split(rep)
            ours.append((f"ours: {label}", (s["logic"], s["sram"], s["dram"])))
    power = PowerData(("logic", "SRAM", "DRAM"), PAPER_POWER_W, tuple(ours))
    return breakdown, sweep_data, power


def work_group(spec: RowSpec) -> int:
    """0 for the rows that simulate the decoder trace (the heaviest runs), 1 for the others."""
    k = spec.key
    decoder = k.endswith((".trace", ".decoder")) or k in (
        "throughput.decoder_trace",
        "dram.lsb_refetch",
    )
    return 0 if decoder else 1


def _print_progress(msg: str) -> None:
    import sys

    print(f"[validate] {msg}", file=sys.stderr, flush=True)


def _warm(quick: bool, keys: tuple[str, ...], verbose: bool) -> tuple[dict, dict, dict]:
    """Worker: measure ``keys`` in a fresh context and return its simulations."""
    ctx = Context(quick=quick, progress=_print_progress if verbose else (lambda msg: None))
    for spec in all_rows():
        if spec.key in keys:
            measure_row(spec, ctx)
    return ctx.cache_state()


def _warm_parallel(
    ctx: Context, specs: list[RowSpec], jobs: int, verbose: bool, say: Callable[[str], None]
) -> None:
    """Run the simulations of ``specs`` in ``jobs`` processes (by :func:`work_group`) and merge
    their caches into ``ctx``; the rows are then measured from the cache."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    groups: dict[int, list[str]] = {}
    for spec in specs:
        groups.setdefault(work_group(spec), []).append(spec.key)
    if len(groups) < 2:
        return
    say(f"simulating in {min(jobs, len(groups))} processes")
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(groups)), mp_context=multiprocessing.get_context("spawn")
    )
    with pool:
        futures = [pool.submit(_warm, ctx.quick, tuple(keys), verbose) for keys in groups.values()]
        for f in futures:
            ctx.merge(f.result())


def run_validation(
    quick: bool = True,
    progress: Callable[[str], None] | None = None,
    only: Callable[[RowSpec], bool] | None = None,
    figures: bool = True,
    jobs: int = 1,
) -> Validation:
    """Measure every row (``quick``: shipped traces and official CSVs only); ``only`` selects
    rows, ``figures=False`` skips the simulations only the figures need; ``jobs`` > 1 runs the
    decoder-trace simulations and the others in parallel processes (same results)."""
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    ctx = Context(quick=quick, progress=say)
    specs = [s for s in all_rows() if only is None or only(s)]
    if jobs > 1:
        todo = [s for s in specs if (s.quick or not quick) and not s.after_all]
        if not quick and any(work_group(s) == 0 for s in todo):
            ctx.decoder_trace()  # made once, before the workers look for it
        _warm_parallel(ctx, todo, jobs, progress is not None, say)
    results: dict[str, RowResult] = {}
    for spec in sorted(specs, key=lambda s: s.after_all):
        if quick and not spec.quick:
            results[spec.key] = judge(spec, m.Measured(None, "measured in the full run only"))
            continue
        say(f"row {spec.key}")
        results[spec.key] = measure_row(spec, ctx)
    rows = tuple(results[s.key] for s in specs)
    if figures:
        # a quick or partial run draws only what its rows ran
        ctx.cached_only = quick or only is not None
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
