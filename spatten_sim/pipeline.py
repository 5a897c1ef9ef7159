"""One simulation, end to end: config + input -> functional phase -> timing -> energy -> report.

``simulate(config, input)`` is what ``spatten-sim run``, the validation suite and the sweeps call.
The input is a v1 trace (``.npz``: the functional phase decides everything from the data) or an
official SpAtten workload CSV (``.csv``: replayed with the official driver's mappings).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatten_sim.config import HwConfig, check_head_dim, load_config
from spatten_sim.errors import SpattenError
from spatten_sim.report import Report, build_report
from spatten_sim.workload import Workload

if TYPE_CHECKING:
    from spatten_sim.algo.fidelity import DenseCache
    from spatten_sim.recording import RunRecorder


def make_memory_for(cfg: HwConfig):
    """The memory model of ``cfg`` behind the fetcher's crossbar (docs/spatten.md §3)."""
    from spatten_sim.hw import memory as memmod

    kernel = "reference" if cfg.timing.mode == "reference" else "fast"
    mem = memmod.make_memory(dict(cfg.memory), cfg.clock_ghz, kernel)
    wrap = getattr(memmod, "with_crossbar", None)
    if wrap is not None:
        mem = wrap(
            mem,
            requests_per_channel_per_cycle=cfg.fetcher.requests_per_channel_per_cycle,
            fifo_depth=cfg.fetcher.address_fifo_depth,
        )
    return mem


def load_workload(
    cfg: HwConfig,
    path: str | Path,
    progress: Callable[[str], None] | None = None,
    dense_cache: DenseCache | None = None,
) -> tuple[Workload, str]:
    """Build the workload of ``path`` (trace or official CSV); returns it and its kind.

    ``dense_cache`` (a trace's: :class:`~spatten_sim.algo.fidelity.DenseCache`) holds the trace
    at ``path``, already loaded, and its fidelity's dense reference from earlier runs."""
    from spatten_sim.shipped import resolve_input

    p = resolve_input(path)
    if p.suffix == ".csv":
        from spatten_sim.workload_csv import load_official_csv

        wl = load_official_csv(p, cfg)
        check_head_dim(cfg, wl.head_dim)
        return wl, "official-csv"
    if p.suffix != ".npz":
        raise SpattenError(f"{p}: expected a trace (.npz) or an official workload (.csv)")
    from spatten_sim.algo.functional import build_workload
    from spatten_sim.trace import load_trace

    trace = load_trace(p) if dense_cache is None else dense_cache.trace
    check_head_dim(cfg, trace.meta.head_dim)
    wl = build_workload(trace, cfg, source=str(p), progress=progress, dense_cache=dense_cache)
    return wl, "trace"


def simulate(
    config: HwConfig | str | Path,
    input_path: str | Path,
    *,
    sets: Iterable[str] | dict[str, Any] = (),
    workload: Workload | None = None,
    progress: Callable[[str], None] | None = None,
    record_timeline: bool = False,
    input_kind: str | None = None,
    provenance_extra: Mapping[str, Any] | None = None,
    recorder: RunRecorder | None = None,
) -> Report:
    """Simulate ``input_path`` on ``config`` (an :class:`HwConfig`, a YAML path or a preset
    name, with optional ``--set`` style overrides) and return the :class:`Report`.

    A prepared ``workload`` may be passed to skip the functional phase (design-space sweeps
    over hardware-only parameters reuse one workload). ``record_timeline`` keeps every unit's
    busy/stall intervals (``Report.timeline``, written as ``timeline.csv``). ``input_kind``
    names what a handed-in ``workload`` was built from (``trace``, ``official-csv``).

    The report's ``provenance`` section (:func:`spatten_sim.provenance.build_provenance`: version,
    code fingerprint, git commit, input SHA-256, the resolved configuration and its SHA-256,
    ``sets``, command line, timestamp) is computed here; ``provenance_extra`` adds to or replaces
    its entries (the CLI passes ``sets`` and ``command_line``; a sweep its known
    ``input_sha256``).

    A ``recorder`` (:class:`spatten_sim.recording.RunRecorder`) keeps a look inside the run
    beside the report (pruning map, DRAM batches, DRAM request stream); it never changes a cycle.
    """
    from spatten_sim.energy import compute_energy, load_energy_table
    from spatten_sim.hw.accelerator import run_timing
    from spatten_sim.provenance import build_provenance

    cfg = config if isinstance(config, HwConfig) else load_config(config, sets)
    provenance = build_provenance(cfg, input_path, sets=sets, extra=provenance_extra)
    table = load_energy_table(cfg.energy.table)
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    kind = input_kind or "workload"
    if workload is None:
        workload, kind = load_workload(cfg, input_path, progress)
    wall["functional"] = time.perf_counter() - t0
    cpu["functional"] = time.process_time() - c0
    mem = make_memory_for(cfg)
    if progress:
        n_jobs = sum(h.n_queries for h in workload.head_jobs())
        progress(f"timing phase: {n_jobs:,} query jobs")
    timing_mem = mem if recorder is None else recorder.attach(workload, mem, kind)
    c1 = time.process_time()
    t1 = time.perf_counter()
    timing = run_timing(cfg, workload, timing_mem, record_timeline, progress)
    wall["timing"] = time.perf_counter() - t1
    cpu["timing"] = time.process_time() - c1
    inner = getattr(mem, "inner", mem)
    perf = {
        "functional_cpu_seconds": cpu["functional"],
        "timing_cpu_seconds": cpu["timing"],
        "dram_kernel_cpu_seconds": float(getattr(inner, "kernel_cpu_seconds", 0.0)),
        "dram_batches": int(getattr(inner, "batches", 0)),
        "events": int(timing.events),
        "timing_mode": cfg.timing.mode,
    }
    seconds = timing.cycles / (cfg.clock_ghz * 1e9)
    energy = compute_energy(timing.actions, timing.params, seconds, table)
    return build_report(
        config_name=cfg.name,
        input_path=str(input_path),
        input_kind=kind,
        workload=workload,
        timing=timing,
        energy=energy,
        memory_model=mem.description
        if mem.description.startswith(f"{mem.name}:")
        else f"{mem.name}: {mem.description}",
        clock_ghz=cfg.clock_ghz,
        peak_bandwidth_gbps=mem.peak_bandwidth_gbps,
        wall=wall,
        perf=perf,
        timeline=timing.timeline,
        provenance=provenance,
    )
