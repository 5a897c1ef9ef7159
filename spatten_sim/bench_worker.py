"""One measurement of ``spatten-sim bench``, in a process of its own (run by file path).

``python bench_worker.py '<json job>'`` prints one JSON line. It imports nothing of spatten_sim
before it has chosen which copy to measure: with ``"source": DIR`` it puts ``DIR`` first on the
path and drops an editable install's import hook, so that another checkout (another commit) can
be timed with the same harness, side by side. Everything it reads from that copy is public and
old: ``simulate()``, the report's ``sim`` section (phase figures it lacks are left out), and
``DramMemory.run_batch``.

Jobs: ``{"kind": "run", "hw": ..., "input": ..., "sets": [...]}`` (one simulation; phases from
the report) and ``{"kind": "dram-stream", "stream": PATH, "kernel": "fast" | "reference"}``
(replay a recorded DRAM stream through a fresh HBM2 model).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _use_source(source: str) -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()
                        and "editable" not in getattr(f, "__name__", "").lower()]  # fmt: skip
    sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
    sys.path.insert(0, source)
    sys.path_importer_cache.clear()


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _run(job: dict) -> dict:
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        from spatten_sim.pipeline import simulate
    except ImportError:  # a checkout from before the module was renamed (``--source``)
        from spatten_sim.simulate import simulate  # type: ignore[import-not-found, no-redef]

    out: dict = {"startup_import_cpu_seconds": time.process_time() - c0}
    c1, w1 = time.process_time(), time.perf_counter()
    rep = simulate(job["hw"], job["input"], sets=job.get("sets", []))
    c2, w2 = time.process_time(), time.perf_counter()
    text = rep.to_json()
    c3, w3 = time.process_time(), time.perf_counter()
    d = rep.to_dict()
    sim = d.get("sim", {})
    out.update(
        cycles=int(d["cycles"]),
        transactions=int(d["dram"].get("transactions", 0)),
        simulate_cpu_seconds=c2 - c1,
        simulate_wall_seconds=w2 - w1,
        report_cpu_seconds=c3 - c2,
        report_wall_seconds=w3 - w2,
        report_bytes=len(text),
        import_wall_seconds=w1 - w0,
    )
    for key in ("functional_wall_seconds", "timing_wall_seconds", "functional_cpu_seconds",
                "timing_cpu_seconds", "dram_kernel_cpu_seconds", "dram_batches", "events",
                "timing_mode"):  # fmt: skip
        if key in sim:
            out[key] = sim[key]
    return out


def _dram_stream(job: dict) -> dict:
    import numpy as np

    from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, FrontendLimits

    with np.load(job["stream"], allow_pickle=False) as z:
        addr, arr, wr_all = z["addresses"], z["arrival"], z["is_write"]
        offsets, front, preset = z["offsets"], z["frontend"], str(z["preset"])
    try:
        mem = DramMemory(DRAM_PRESETS[preset], 1.0, kernel=job.get("kernel", "fast"))
    except TypeError:  # a copy from before the kernel choice: its one kernel
        mem = DramMemory(DRAM_PRESETS[preset], 1.0)
    batches = [
        (int(offsets[b]), int(offsets[b + 1]),
         FrontendLimits(bool(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4])))
        for b, f in enumerate(front)
    ]  # fmt: skip
    c0, w0 = time.process_time(), time.perf_counter()
    last = 0
    for lo, hi, fe in batches:
        wr = wr_all[lo:hi] if wr_all.size else None
        t = mem.run_batch(addr[lo:hi], arr[lo:hi], wr, fe)
        last = max(last, int(t.done.max()))
    c1, w1 = time.process_time(), time.perf_counter()
    st = mem.stats()
    return {
        "transactions": int(addr.size),
        "dram_batches": len(batches),
        "cycles": last,
        # the kernel alone where the copy measures it, else the whole replay loop
        "dram_kernel_cpu_seconds": float(getattr(mem, "kernel_cpu_seconds", c1 - c0)),
        "simulate_cpu_seconds": c1 - c0,
        "simulate_wall_seconds": w1 - w0,
        "row_hits": int(st["row_hits"]),
        "activations": int(st["activations"]),
    }


def main() -> int:
    job = json.loads(sys.argv[1])
    if job.get("source"):
        _use_source(job["source"])
    fn = _dram_stream if job["kind"] == "dram-stream" else _run
    out = fn(job)
    out["process_cpu_seconds"] = time.process_time()
    out["peak_memory_mib"] = _peak_mib()
    print("BENCH " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
