"""Rebuild every figure of plots/ and the README from committed inputs (docs/plots.md).

    python plots/make_all.py                  # every figure, from plots/data/ and
                                              # plots/validation/ (re-running a sweep whose
                                              # recorded space differs from hw_configs/sweeps/)
    python plots/make_all.py --rerun topk_comparators   # re-run that sweep first (fresh)
    python plots/make_all.py --validate       # re-run spatten-sim validate (quick and full,
                                              # about 6 minutes on 2 cores) before drawing
    python plots/make_all.py --format pdf --out /tmp/figs   # the same figures as PDF elsewhere
    python plots/make_all.py --only sweep_kv_sram           # one figure (repeatable)

Inputs (all committed): the sweep results ``plots/data/<sweep>/`` (what ``spatten-sim sweep``
writes, from ``hw_configs/sweeps/<sweep>.yaml``), the run folder ``plots/data/run-minilm-sst-25/``
(``spatten-sim run --timeline``), the validation outputs ``plots/validation[/quick]/``
(``validation.json`` and ``figures.json``, what ``spatten-sim validate`` writes) and the DRAM
model itself (``dram_latency_bandwidth.png`` re-measures it, about 10 s). A sweep is re-run when
its recorded ``space.yaml`` is not the space file of ``hw_configs/sweeps/`` any more (its inputs
changed) or with ``--rerun``; nothing else is simulated unless asked. Every figure says on
stdout where it was written; a figure without data is skipped and said on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
SPACES = REPO / "hw_configs" / "sweeps"
#: the accuracy-in-the-loop sweeps (one per token-pruning policy; they need the [trace] extra)
ACCURACY_SWEEPS = tuple(f"accuracy_{k}" for k in ("cascade", "spatten_llm", "h2o", "streaming"))
SWEEPS = ("topk_comparators", "kv_sram", "hbm_channels", "keep_ratio_msb", *ACCURACY_SWEEPS)
RUN_DIR = DATA / "run-minilm-sst-25"
VALIDATION = HERE / "validation"
PAPER_SRAM_BYTES = 196_608  #: the paper's 196 KB K (and V) SRAM: 2 x 1024 x 64 x 12 bit
PAPER_TOPK_SATURATION = 16


def say(msg: str) -> None:
    print(f"[make_all] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ inputs
def stale(name: str) -> bool:
    """True when ``plots/data/<name>`` is missing or was recorded from another space (the
    parsed YAML differs: a comment does not count)."""
    import yaml

    rec = DATA / name / "space.yaml"
    src = SPACES / f"{name}.yaml"
    return not rec.is_file() or yaml.safe_load(rec.read_text()) != yaml.safe_load(src.read_text())


def run_sweep_fresh(name: str, jobs: int | None) -> None:
    """Re-run one example sweep into ``plots/data/<name>`` from scratch."""
    from spatten_sim.sweep import run_sweep

    t0 = time.monotonic()
    shutil.rmtree(DATA / name, ignore_errors=True)
    s = run_sweep(SPACES / f"{name}.yaml", DATA / name, jobs=jobs, show_progress=False).summary
    say(f"{name}: {s.ok} points in {time.monotonic() - t0:.0f} s")
    if s.failed or s.remaining:
        raise SystemExit(f"{name}: {s.failed} failed, {s.remaining} not run")


def run_validation() -> None:
    """``spatten-sim validate`` (quick, then full) into plots/validation[/quick]."""
    for extra, out in ((["--quick"], VALIDATION / "quick"), ([], VALIDATION)):
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "spatten_sim", "validate", *extra, "-q", "-o", str(out),
               "--markdown", str(out / "table.md"), "--allow-missing"]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        say(f"validate {' '.join(extra) or '(full)'}: {time.monotonic() - t0:.0f} s")


# ------------------------------------------------------------------------------ figures
Figures = list[tuple[str, Callable[[], object]]]


def _series_saturation(runs: Sequence, frac: float = 0.02) -> str:
    """Per trace: the fewest comparators within ``frac`` of its fastest point."""
    from spatten_sim.plots.style import trace_name

    out = []
    for trace in dict.fromkeys(r.trace for r in runs):
        pts = sorted((r.row["cfg.topk.comparators"], r.row["cycles"]) for r in runs
                     if r.trace == trace)  # fmt: skip
        best = min(c for _, c in pts)
        sat = min(p for p, c in pts if c <= best * (1 + frac))
        out.append(f"{trace_name(trace)}: {sat}")
    return ", ".join(out)


def sweep_figures() -> Figures:
    """The figures drawn from the example sweeps (name, function returning a Figure)."""
    from spatten_sim.plots import figures, load_sweep

    def topk():
        sw = load_sweep(DATA / "topk_comparators")
        where = (
            "Top-k engine DSE on generation (GPT-2-Small official workload, SmolLM2 96+16): "
            f"within 2 % of the fastest from {_series_saturation(sw.runs)} comparators"
        )
        return figures.metric_vs_axis(
            sw.runs, "topk.comparators", relative_to=1, where=where,
            marks=[("paper", PAPER_TOPK_SATURATION, "paper: saturates at 16")],
        )  # fmt: skip

    def kv():
        sw = load_sweep(DATA / "kv_sram")
        split = {r.row["cfg.buffers.key_sram_bytes"]: r.row["pruning.heads_split"] for r in sw.runs}
        small = [b // 1024 for b, n in sorted(split.items()) if n]
        where = "K and V SRAM size (each), MPNet-128 (summarization)" + (
            f"; at {', '.join(map(str, small))} KiB a head's K/V do not fit: heads are streamed "
            "per query"
            if small
            else ""
        )
        return figures.metric_vs_axis(
            sw.runs, "buffers.key_sram_bytes",
            zipped=["buffers.key_sram_bytes", "buffers.value_sram_bytes"], where=where,
            marks=[("paper", PAPER_SRAM_BYTES, "paper: 196 KB (= 192 KiB) each")],
        )  # fmt: skip

    def hbm():
        sw = load_sweep(DATA / "hbm_channels")
        gen = sorted(
            (r for r in sw.runs if r.report["input"]["generated_tokens"]),
            key=lambda r: r.row["cfg.memory.channels"],
        )
        where = None
        if gen:
            lo, hi = gen[0], gen[-1]
            x = [r.report["cycles"] / r.report["dram"]["bound_cycles"] for r in (lo, hi)]
            busiest = max(
                u["utilization"] for r in gen[1:] for u in r.report["units"].values()
            )  # fmt: skip
            where = (
                f"HBM2 channels (32 GB/s each). SmolLM2 generation: {x[0]:.1f}x its DRAM bound at "
                f"{lo.row['cfg.memory.channels']}"
                f" channel, {x[1]:.0f}x at {hi.row['cfg.memory.channels']}; from 2 channels no unit "
                f"is busy over {busiest:.0%} of the cycles: latency-bound, not bandwidth-bound"
            )
        return figures.metric_vs_axis(sw.runs, "memory.channels", where=where)

    def hbm_roofline():
        sw = load_sweep(DATA / "hbm_channels")
        return figures.roofline(sw.runs, where="HBM2 channel sweep: one roof per channel count")

    def hbm_energy():
        sw = load_sweep(DATA / "hbm_channels")
        return figures.energy_by_unit(sw.runs, where="HBM2 channel sweep, both traces")

    def kr_pareto():
        sw = load_sweep(DATA / "keep_ratio_msb")
        return figures.pareto(
            sw.runs,
            where="Accuracy-efficiency frontier: token keep ratio 0.1..1.0 x K MSB bits 4, 6, 8; "
            "MiniLM-60, MPNet-128",
        )

    def kr_fidelity():
        sw = load_sweep(DATA / "keep_ratio_msb")
        return figures.metric_vs_axis(
            sw.runs, "policy.token_pruning.end_keep_ratio", ["latency_us", "fidelity_error"],
            relative_to=1.0, relative_metrics=["latency_us"],
            where="Token keep ratio: speed-up over keeping every token, and the fidelity error "
            "(one line per trace and K MSB width)",
        )  # fmt: skip

    def kr_dram():
        sw = load_sweep(DATA / "keep_ratio_msb")
        mpnet = [r for r in sw.runs if r.trace.startswith("mpnet")]
        return figures.dram_by_stream(mpnet, where="MPNet-128 only")

    def kr_layers():
        sw = load_sweep(DATA / "keep_ratio_msb")
        k6 = [
            r for r in sw.runs
            if r.trace.startswith("mpnet") and dict(r.values)["policy.quantization.k_msb_bits"] == 6
        ]  # fmt: skip
        return figures.per_layer_kept(k6, where="MPNet-128, 6 K MSB bits, every keep ratio")

    def accuracy_policies():
        from spatten_sim.plots.accuracy import accuracy_pareto

        runs = [r for name in ACCURACY_SWEEPS for r in load_sweep(DATA / name).runs]
        # one series per sweep (policy); the budget axis differs in name between them
        labelled = [
            dataclasses.replace(
                r, values=(("policy.token_pruning.kind", r.row["cfg.policy.token_pruning.kind"]),)
            )
            for r in runs
        ]
        return accuracy_pareto(
            labelled,
            where="SmolLM2-135M, Wikipedia 512 + 64 tokens, decisions in the loop: each policy at "
            "kept-token budgets 0.45, 0.55, 0.65, 0.8",
        )

    def timeline():
        from spatten_sim.plots import inside, load_run_dir, load_timeline

        run = load_run_dir(RUN_DIR)
        rows = inside.load_layer_rows(RUN_DIR)
        return figures.timeline(
            load_timeline(RUN_DIR), units=list(run.report["units"]),
            total_cycles=run.report["cycles"], marks=inside.layer_marks(rows),
            note="MiniLM on a 25-token SST-2 sentence, spatten.yaml",
        )  # fmt: skip

    return [
        ("sweep_topk_comparators", topk),
        ("sweep_kv_sram", kv),
        ("sweep_hbm_channels", hbm),
        ("sweep_hbm_channels_roofline", hbm_roofline),
        ("sweep_hbm_channels_energy_by_unit", hbm_energy),
        ("sweep_keep_ratio_msb_pareto", kr_pareto),
        ("sweep_keep_ratio_msb_fidelity", kr_fidelity),
        ("sweep_keep_ratio_msb_dram_by_stream", kr_dram),
        ("sweep_keep_ratio_msb_per_layer_kept", kr_layers),
        ("sweep_accuracy_policies", accuracy_policies),
        ("run_minilm_timeline", timeline),
    ]


def dram_figure():
    sys.path.insert(0, str(HERE))
    import dram_latency_bandwidth

    return dram_latency_bandwidth.figure()


def render(out: Path, fmt: str, only: Sequence[str]) -> list[Path]:
    """Draw and write every figure (or those of ``only``) into ``out`` in ``fmt``."""
    from spatten_sim.plots import style
    from spatten_sim.validate.figures import FIGURE_NAMES, load_validation, write_figures

    written: list[Path] = []
    todo = [*sweep_figures(), ("dram_latency_bandwidth", dram_figure)]
    for name, fn in todo:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        d = style.draw(name, fn)
        written += style.write_all([d], out, fmt, say=say)
        say(f"{name}: {time.monotonic() - t0:.1f} s")
    for sub in ("validation", "validation/quick"):
        names = [f"{sub}/{n}" for n in FIGURE_NAMES]
        if only and not any(n in only for n in names):
            continue
        src = HERE / sub
        if not (src / "figures.json").is_file():
            raise SystemExit(
                f"{src}: no figures.json (written by spatten-sim validate): run "
                "`python plots/make_all.py --validate` once"
            )
        written += write_figures(load_validation(src), out / sub, fmt, say=say)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rerun", action="append", default=[], choices=SWEEPS,
                    help="re-run this example sweep from scratch first (repeatable)")  # fmt: skip
    ap.add_argument("--validate", action="store_true",
                    help="re-run spatten-sim validate (quick and full) first")  # fmt: skip
    ap.add_argument("--jobs", type=int, default=None, help="sweep worker processes")
    ap.add_argument("--format", choices=("png", "pdf", "svg"), default="png")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for the figures (plots/)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="only this figure, e.g. sweep_kv_sram or validation/breakdown")  # fmt: skip
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    for name in SWEEPS:
        if name in args.rerun or stale(name):
            say(f"{name}: re-running ({'asked' if name in args.rerun else 'space file changed'})")
            run_sweep_fresh(name, args.jobs)
    if args.validate:
        run_validation()
    for p in render(args.out, args.format, args.only):
        print(p.relative_to(REPO) if p.is_relative_to(REPO) else p)
    say(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
