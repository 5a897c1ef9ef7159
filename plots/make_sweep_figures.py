"""Regenerate the design-space figures of the README from committed inputs.

    python plots/make_sweep_figures.py            # render plots/sweep_*.png, plots/run_*.png
                                                  # from the results committed in plots/data/
    python plots/make_sweep_figures.py --run      # first run (or resume) the example sweeps of
                                                  # hw_configs/sweeps/ into plots/data/, then render
    python plots/make_sweep_figures.py --run --dask local   # the same on a Dask LocalCluster
    python plots/make_sweep_figures.py --run --fresh        # recompute everything (after a
                                                            # simulator change: new point ids)

Inputs: ``plots/data/<sweep>/`` (results.csv, manifest.json, points/*.json: what
``spatten-sim sweep`` writes) and ``plots/data/run-minilm-sst-25/`` (a ``spatten-sim run
--timeline`` folder). With ``--run`` they are recomputed from ``hw_configs/sweeps/*.yaml`` and the
shipped traces (a few minutes each on two cores; points already present are skipped, so delete a
folder to recompute it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
SWEEPS = ("topk_comparators", "kv_sram", "hbm_channels", "keep_ratio_msb")
RUN_TRACE = REPO / "traces" / "minilm-sst-25.npz"
RUN_DIR = DATA / "run-minilm-sst-25"


def run_inputs(jobs: int | None, dask: str | None, fresh: bool) -> None:
    import shutil

    from spatten_sim.config import load_config
    from spatten_sim.pipeline import simulate
    from spatten_sim.sweep import run_sweep

    if fresh:  # drop old records (another simulator's results stay in points/ otherwise)
        for d in [*(DATA / n for n in SWEEPS), RUN_DIR]:
            shutil.rmtree(d, ignore_errors=True)
    for name in SWEEPS:
        t0 = time.monotonic()
        s = run_sweep(
            REPO / "hw_configs" / "sweeps" / f"{name}.yaml", DATA / name, jobs=jobs, dask=dask
        ).summary
        print(s.text(), file=sys.stderr)
        print(f"{name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        if s.failed or s.remaining:
            raise SystemExit(f"{name}: {s.failed} failed, {s.remaining} not run")
    cfg = load_config("spatten")
    rep = simulate(cfg, RUN_TRACE, record_timeline=True)
    rep.write_dir(RUN_DIR, cfg.to_yaml())


def render() -> list[Path]:
    from spatten_sim.plots import figures, load_run_dir, load_sweep, load_timeline
    from spatten_sim.plots.style import save

    out: list[Path] = []
    topk = load_sweep(DATA / "topk_comparators")
    fig = figures.metric_vs_axis(topk.runs, "topk.comparators")
    fig.suptitle("Top-k engine DSE: comparators per array (the paper picks 16)")
    out.append(save(fig, HERE / "sweep_topk_comparators.png"))

    kv = load_sweep(DATA / "kv_sram")
    fig = figures.metric_vs_axis(
        kv.runs,
        "buffers.key_sram_bytes",
        zipped=["buffers.key_sram_bytes", "buffers.value_sram_bytes"],
    )
    fig.suptitle("K/V SRAM size, each (the paper: 196 KB)")
    out.append(save(fig, HERE / "sweep_kv_sram.png"))

    hbm = load_sweep(DATA / "hbm_channels")
    fig = figures.metric_vs_axis(
        hbm.runs, "memory.channels", ["latency_us", "energy_uj", "dram_mb"]
    )
    fig.suptitle("HBM2 channels (32 GB/s each): MiniLM summarization, SmolLM2 generation")
    out.append(save(fig, HERE / "sweep_hbm_channels.png"))
    out.append(save(figures.roofline(hbm.runs), HERE / "sweep_hbm_channels_roofline.png"))
    out.append(
        save(figures.energy_by_unit(hbm.runs), HERE / "sweep_hbm_channels_energy_by_unit.png")
    )

    kr = load_sweep(DATA / "keep_ratio_msb")
    fig = figures.pareto(kr.runs)
    fig.suptitle("Accuracy-efficiency frontier: token keep ratio x K MSB bits")
    out.append(save(fig, HERE / "sweep_keep_ratio_msb_pareto.png"))
    fig = figures.metric_vs_axis(
        kr.runs, "policy.token_pruning.end_keep_ratio", ["latency_us", "fidelity_error"]
    )
    out.append(save(fig, HERE / "sweep_keep_ratio_msb_fidelity.png"))
    mpnet = [r for r in kr.runs if r.trace.startswith("mpnet")]
    out.append(
        save(figures.dram_by_stream(mpnet), HERE / "sweep_keep_ratio_msb_dram_by_stream.png")
    )
    k6 = [r for r in mpnet if dict(r.values)["policy.quantization.k_msb_bits"] == 6]
    out.append(save(figures.per_layer_kept(k6), HERE / "sweep_keep_ratio_msb_per_layer_kept.png"))

    run = load_run_dir(RUN_DIR)
    fig = figures.timeline(
        load_timeline(RUN_DIR), units=list(run.report["units"]), total_cycles=run.report["cycles"]
    )
    out.append(save(fig, HERE / "run_minilm_timeline.png"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", action="store_true", help="run (or resume) the example sweeps first")
    ap.add_argument(
        "--jobs", type=int, default=None, help="local worker processes (default: cores)"
    )
    ap.add_argument("--dask", default=None, help="'local' or a scheduler address")
    ap.add_argument(
        "--fresh", action="store_true", help="with --run: delete plots/data/ first (recompute all)"
    )
    args = ap.parse_args()
    if args.run:
        run_inputs(args.jobs, args.dask, args.fresh)
    for p in render():
        print(p.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
