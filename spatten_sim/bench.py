"""``spatten-sim bench``: how fast the simulator is, on a fixed set of workloads.

Every case runs in a process of its own (:mod:`spatten_sim.bench_worker`), once to warm the
Numba cache and the page cache, then ``repeats`` times. A case reports, as medians over the
repeats (and the min and max of the whole-process CPU time):

* whole-process CPU and wall seconds (what a user waits for: start-up, functional phase,
  timing phase, report) and each of them apart, the CPU seconds of the calls that run the DRAM
  kernel inside timing (a generation layer's call also runs the arbiter and both chains);
* simulated cycles and simulated cycles per CPU second of the timing phase;
* discrete events, DRAM batches, DRAM transactions and transactions per CPU second of the kernel;
* peak resident memory of the process (MiB).

Speed figures live here and in ``benchmarks/``, never in tests: shared machines are noisy.
The JSON written by ``--json`` is what ``--compare`` reads, so two commits (``--source`` runs
another checkout with the same harness) or two machines can be set side by side.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError

BENCH_VERSION = 1


@dataclass(frozen=True)
class Case:
    """One benchmark workload: a simulation (``run``) or a DRAM stream replay."""

    name: str
    kind: str  #: "run" | "dram-stream"
    hw: str = "spatten"
    input: str = ""  #: an input key resolved by :func:`resolve_input`
    kernel: str = "fast"
    sets: tuple[str, ...] = ()
    quick: bool = False
    what: str = ""


CASES: tuple[Case, ...] = (
    Case("readme", "run", input="trace:minilm-sst-25", quick=True,
         what="the README's first command (MiniLM, SST-2 sentence, 25 tokens)"),
    Case("minilm-sst-60", "run", input="trace:minilm-sst-60"),
    Case("mpnet-wiki-128", "run", input="trace:mpnet-wiki-128"),
    Case("smollm2-96+16", "run", input="trace:smollm2-wiki-96+16", quick=True,
         what="shipped decoder trace, 96 prompt + 16 generated tokens"),
    Case("gpt2-small-csv", "run", input="csv:gpt2-small", quick=True,
         what="official GPT-2-Small workload CSV"),
    Case("gpt2-medium-csv", "run", input="csv:gpt2-medium",
         what="official GPT-2-Medium workload CSV"),
    Case("mpnet-512", "run", input="made:mpnet-512", what="MPNet, 512-token Wikipedia text"),
    Case("smollm2-992+32", "run", input="made:smollm2-992+32",
         what="SmolLM2-135M, 992 prompt + 32 generated tokens (the paper's GPT-2 setting)"),
    Case("smollm2-992+32-dense", "run", hw="dense", input="made:smollm2-992+32",
         what="the same on dense.yaml (no pruning, no quantization)"),
    Case("hbm2-kernel", "dram-stream", input="stream:gpt2-medium",
         what="the HBM2 kernel alone on the GPT-2-Medium replay's recorded DRAM stream"),
    Case("hbm2-kernel-reference", "dram-stream", input="stream:gpt2-medium", kernel="reference",
         what="the same with the reference kernel"),
    Case("hbm2-kernel-small", "dram-stream", input="stream:gpt2-small", quick=True,
         what="the HBM2 kernel alone on the GPT-2-Small replay's DRAM stream"),
)  # fmt: skip


def case_names() -> list[str]:
    return [c.name for c in CASES]


# ------------------------------------------------------------------ inputs
def _made_trace(key: str, progress: Callable[[str], None]) -> Path:
    from spatten_sim.validate.context import cache_dir, full_decoder_trace

    if key == "smollm2-992+32":
        path, note = full_decoder_trace(progress)
        if path is None:
            raise SpattenError(f"bench: {note}")
        return path
    out = cache_dir() / "traces" / "mpnet-wiki-512.npz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        progress(f"making the MPNet 512-token trace: {out}")
        cmd = [sys.executable, "-c",
               "import sys; from spatten_sim.cli import console; sys.exit(console(sys.argv[1:]))",
               "trace", "--model", "mpnet", "--text", "wiki", "--sample", "0", "--tokens", "512",
               "--no-progress", "-o", str(out)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0 or not out.exists():
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise SpattenError(f"bench: could not make the MPNet 512-token trace ({last})")
    return out


def _stream(key: str, progress: Callable[[str], None]) -> Path:
    """The DRAM stream of an official CSV's replay on spatten.yaml, recorded on first use."""
    from spatten_sim.validate.context import cache_dir

    out = cache_dir() / "bench" / f"{key}-hbm2-stream.npz"
    if out.exists():
        return out
    from spatten_sim.config import load_config
    from spatten_sim.hw.accelerator import run_timing
    from spatten_sim.hw.dram.stream import StreamRecorder
    from spatten_sim.pipeline import load_workload, make_memory_for

    csv = resolve_input(f"csv:{key}", progress)
    progress(f"recording the DRAM stream of the {key} replay: {out}")
    cfg = load_config("spatten")
    wl, _ = load_workload(cfg, csv)
    mem = make_memory_for(cfg)
    rec = StreamRecorder()
    getattr(mem, "inner", mem).recorder = rec
    run_timing(cfg, wl, mem)
    out.parent.mkdir(parents=True, exist_ok=True)
    rec.stream(mem.name).save(out)
    return out


def resolve_input(key: str, progress: Callable[[str], None]) -> Path:
    """The file behind an input key (``trace:NAME``, ``csv:NAME``, ``made:NAME``, ``stream:``)."""
    from spatten_sim.shipped import find_input, official_workload

    kind, _, name = key.partition(":")
    if kind == "trace":
        p = find_input(name)
        if p is None:
            raise SpattenError(f"bench: shipped trace {name} not found (is the install complete?)")
        return p
    if kind == "csv":
        csv = official_workload(name)
        if csv is None:
            raise SpattenError(
                f"bench: the official workload {name} was not found (is the install complete?)"
            )
        return csv
    if kind == "made":
        return _made_trace(name, progress)
    if kind == "stream":
        return _stream(name, progress)
    raise SpattenError(f"bench: unknown input {key!r}")  # pragma: no cover


# ------------------------------------------------------------------ running
@dataclass
class CaseResult:
    """The repeats of one case and their summary (see :func:`summarize`)."""

    case: Case
    runs: list[dict[str, Any]] = field(default_factory=list)
    whole_wall: list[float] = field(default_factory=list)
    error: str | None = None


def _worker_job(case: Case, path: Path, source: str | None) -> dict[str, Any]:
    if case.kind == "dram-stream":
        job: dict[str, Any] = {"kind": "dram-stream", "stream": str(path), "kernel": case.kernel}
    else:
        job = {"kind": "run", "hw": case.hw, "input": str(path), "sets": list(case.sets)}
    if source:
        job["source"] = str(Path(source).resolve())
    return job


def _worker_env() -> dict[str, str]:
    """The environment of a worker: this one, with the bytecode cache on.

    The runs after the warm-up are meant to be warm, bytecode included: an installed or
    editable spatten-sim has its ``.pyc`` files after the first run. Where the environment
    forbids writing them (``PYTHONDONTWRITEBYTECODE``), every run would compile each module it
    imports again (67 modules, 0.13-0.17 s of the README command under ``python -m cProfile``),
    so the worker writes them under the cache folder instead (``PYTHONPYCACHEPREFIX``), never
    beside the sources (docs/performance.md)."""
    from spatten_sim.validate.context import cache_dir

    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        env.setdefault("PYTHONPYCACHEPREFIX", str(cache_dir() / "bench" / "pycache"))
    return env


def _run_worker(job: dict[str, Any]) -> tuple[dict[str, Any], float]:
    worker = Path(__file__).with_name("bench_worker.py")
    env = _worker_env()
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, str(worker), json.dumps(job)], capture_output=True,
                         text=True, check=False, env=env)  # fmt: skip
    wall = time.perf_counter() - t0
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("BENCH ")]
    if res.returncode != 0 or not lines:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise SpattenError(f"worker failed (exit {res.returncode}): {last}")
    return json.loads(lines[-1][6:]), wall


def run_case(
    case: Case, repeats: int, progress: Callable[[str], None], source: str | None = None
) -> CaseResult:
    out = CaseResult(case)
    try:
        path = resolve_input(case.input, progress)
        job = _worker_job(case, path, source)
        progress(f"{case.name}: warm-up")
        _run_worker(job)
        for i in range(repeats):
            progress(f"{case.name}: run {i + 1}/{repeats}")
            r, wall = _run_worker(job)
            out.runs.append(r)
            out.whole_wall.append(wall)
    except SpattenError as e:
        out.error = str(e)
    return out


def summarize(res: CaseResult) -> dict[str, Any]:
    """Medians over the repeats; process CPU also as min and max."""
    c = res.case
    d: dict[str, Any] = {"name": c.name, "kind": c.kind, "hw": c.hw, "input": c.input,
                         "kernel": c.kernel, "what": c.what, "repeats": len(res.runs)}  # fmt: skip
    if res.error is not None:
        d["error"] = res.error
        return d
    if not res.runs:
        d["error"] = "no run"
        return d

    def med(key: str) -> float | None:
        vals = [r[key] for r in res.runs if isinstance(r.get(key), (int, float))]
        return float(statistics.median(vals)) if vals else None

    cpu = [float(r["process_cpu_seconds"]) for r in res.runs]
    d.update(
        process_cpu_seconds=statistics.median(cpu),
        process_cpu_seconds_min=min(cpu),
        process_cpu_seconds_max=max(cpu),
        process_wall_seconds=statistics.median(res.whole_wall),
        peak_memory_mib=med("peak_memory_mib"),
        cycles=res.runs[0].get("cycles"),
        transactions=res.runs[0].get("transactions"),
        events=res.runs[0].get("events"),
        dram_batches=res.runs[0].get("dram_batches"),
    )
    for key in ("startup_import_cpu_seconds", "functional_cpu_seconds", "timing_cpu_seconds",
                "dram_kernel_cpu_seconds", "report_cpu_seconds", "simulate_cpu_seconds",
                "functional_wall_seconds", "timing_wall_seconds", "simulate_wall_seconds",
                "report_wall_seconds"):  # fmt: skip
        d[key] = med(key)
    if d["startup_import_cpu_seconds"] is not None and c.kind == "run":
        # start-up: interpreter, imports and everything outside simulate() and the report
        d["startup_cpu_seconds"] = max(
            0.0, d["process_cpu_seconds"] - (d["simulate_cpu_seconds"] or 0.0)
            - (d["report_cpu_seconds"] or 0.0)
        )  # fmt: skip
    t_cpu = d["timing_cpu_seconds"] if c.kind == "run" else d["simulate_cpu_seconds"]
    d["simulated_cycles_per_cpu_second"] = d["cycles"] / t_cpu if t_cpu and d["cycles"] else None
    k = d["dram_kernel_cpu_seconds"]
    d["transactions_per_kernel_cpu_second"] = (
        d["transactions"] / k if k and d["transactions"] else None
    )
    return d


def machine() -> dict[str, Any]:
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "platform": platform.platform()}  # fmt: skip


def bench_document(results: list[dict[str, Any]], source: str | None) -> dict[str, Any]:
    from spatten_sim import __version__

    return {
        "bench_version": BENCH_VERSION,
        "spatten_sim_version": __version__,
        "source": str(Path(source).resolve()) if source else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "cases": results,
    }


# ------------------------------------------------------------------ printing
def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _phase(d: dict[str, Any], name: str) -> str:
    """A phase's CPU seconds, or its wall seconds marked ``w`` when the measured copy of the
    simulator reports no CPU time per phase (older commits)."""
    cpu, wall = d.get(f"{name}_cpu_seconds"), d.get(f"{name}_wall_seconds")
    if cpu is not None:
        return f"{cpu:.2f}"
    return "-" if wall is None else f"{wall:.2f}w"


def format_table(doc: dict[str, Any]) -> str:
    rows = [("case", "proc CPU s", "wall s", "startup", "functional", "timing", "DRAM kern",
             "report", "cycles", "cycles/s", "events", "DRAM tx", "tx/s", "peak MiB")]  # fmt: skip
    not_run = []  # listed under the table: a long reason in a column would widen it
    for d in doc["cases"]:
        if "error" in d:
            rows.append((d["name"], "not run", *["-"] * 12))
            not_run.append(f"{d['name']}: not run: {d['error']}")
            continue
        rows.append((
            d["name"],
            f"{d['process_cpu_seconds']:.2f} [{d['process_cpu_seconds_min']:.2f}-"
            f"{d['process_cpu_seconds_max']:.2f}]",
            _f(d["process_wall_seconds"], ".2f"),
            _f(d.get("startup_cpu_seconds"), ".2f"),
            _phase(d, "functional"),
            _phase(d, "timing"),
            _f(d["dram_kernel_cpu_seconds"], ".2f"),
            _f(d["report_cpu_seconds"], ".3f"),
            _f(d["cycles"], ","),
            _f(d["simulated_cycles_per_cpu_second"], ",.0f"),
            _f(d["events"], ","),
            _f(d["transactions"], ","),
            _f(d["transactions_per_kernel_cpu_second"], ",.0f"),
            _f(d["peak_memory_mib"], ".0f"),
        ))  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]  # fmt: skip
    m = doc["machine"]
    head = (f"spatten-sim bench ({doc['spatten_sim_version']}"
            + (f", source {doc['source']}" if doc.get("source") else "")
            + f"), {m['cpu']}, {m['cores']} cores, Python {m['python']}")  # fmt: skip
    units = ("CPU and wall in seconds (medians; process CPU [min-max] over the repeats); "
             "phases in CPU seconds (w: wall seconds); cycles/s = simulated cycles per CPU second of the timing "
             "phase; DRAM kern = CPU seconds of the calls that run the HBM2 kernel (in a run: the "
             "fused fetch calls, and the generation layers' calls, which also run the arbiter "
             "and both chains); tx/s = DRAM transactions per CPU second of those")  # fmt: skip
    return "\n".join([head, units, "", *lines, *(["", *not_run] if not_run else [])])


COMPARED = ("process_cpu_seconds", "process_wall_seconds", "functional_cpu_seconds",
            "timing_cpu_seconds", "dram_kernel_cpu_seconds", "peak_memory_mib",
            "transactions_per_kernel_cpu_second")  # fmt: skip


def format_compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Old and new figures side by side with new/old ratios (< 1: faster or smaller, except
    for transactions per second, where > 1 is faster)."""
    o = {d["name"]: d for d in old.get("cases", [])}
    rows = [("case", "figure", "old", "new", "new/old")]
    for d in new["cases"]:
        p = o.get(d["name"])
        if p is None or "error" in d or "error" in p:
            continue
        for key in COMPARED:
            a, b = p.get(key), d.get(key)
            if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
                continue
            rows.append((d["name"], key, f"{a:,.2f}", f"{b:,.2f}", f"{b / a:.3f}" if a else "-"))
    if len(rows) == 1:
        return "no case in common with the compared run"
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)  # fmt: skip


def load_bench(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpattenError(f"{path}: cannot read a bench JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise SpattenError(f"{path}: not a spatten-sim bench JSON (no 'cases' list)")
    return doc
