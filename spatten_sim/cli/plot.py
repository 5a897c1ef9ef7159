"""``spatten-sim plot PATH -o DIR``: the standard figures of a sweep or of one run (docs/plots.md)."""

from __future__ import annotations

import argparse

HELP = "draw the standard figures (PNG, PDF or SVG) of a sweep results folder or of a run folder"
DESCRIPTION = """\
Draw the standard figures of PATH into DIR (headless; PNG, or --format pdf / svg).

PATH is a sweep results folder (spatten-sim sweep -o) or a run folder (spatten-sim run -o).
For a sweep: latency and energy against every axis (vs_<axis>.png); the Pareto front of latency,
energy and fidelity when the fidelity varies (pareto.png); DRAM bytes by stream and energy by unit
as stacked bars; tokens and heads kept per layer; a roofline with each point. For a run: the same
breakdowns and roofline, and with --timeline (or when the folder has timeline.csv) the per-unit
occupancy Gantt (timeline.png) under a band of the iterations and layers; a run longer than
100,000 cycles is shown in an automatic window (a decoder's first generation iteration, else
the busiest 20,000 cycles; the title says which; --window overrides). With --pruning, the heat
map of the tokens kept at each layer and of the heads kept (pruning.npz, pruning.png).
A figure without data (no run has it) is skipped, with a line on stderr; none is written empty.
Labels carry units, legends sit outside the data; docs/plots.md describes every figure.

Metrics (--metric): latency_us, energy_uj, fidelity_error, dram_mb, power_mw, gops_effective,
gops_per_joule, or any column of results.csv (e.g. units.qxk.utilization).

examples:
  spatten-sim plot results/topk -o plots/topk
  spatten-sim plot results/topk -o plots/topk --x topk.comparators --metric latency_us --metric dram_mb
  spatten-sim plot results/topk -o paper/figs --format pdf
  spatten-sim run spatten traces/minilm-sst-25.npz --timeline -o runs/minilm
  spatten-sim plot runs/minilm -o plots/minilm --timeline --window 0:10000
  spatten-sim plot runs/minilm -o plots/minilm --pruning
  spatten-sim run spatten traces/smollm2-wiki-96+16.npz --timeline -o runs/smollm2
  spatten-sim plot runs/smollm2 -o plots/smollm2 --pruning --iterations 0,1,16 --timeline
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="sweep results folder or run folder")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the PNGs")
    p.add_argument(
        "--x",
        dest="x",
        action="append",
        default=[],
        metavar="KEY.PATH",
        help="sweeps: the axis to plot against (repeatable; default: every axis of the space)",
    )
    p.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        default=[],
        metavar="NAME",
        help="sweeps: a metric on the y axes (repeatable; default: latency_us and energy_uj)",
    )
    p.add_argument(
        "--timeline",
        action="store_true",
        help="runs: draw the per-unit occupancy timeline (needs timeline.csv: record it with "
        "`spatten-sim run ... --timeline -o DIR`)",
    )
    p.add_argument(
        "--window",
        metavar="START:END",
        help="runs: the cycle window of the timeline, or 'all' (default: the whole run, or an "
        "automatic window when it is longer than 100,000 cycles)",
    )
    p.add_argument(
        "--pruning",
        action="store_true",
        help="runs: draw the heat map of the tokens and heads kept at each layer (pruning.png; "
        "needs pruning.npz, which `spatten-sim run ... -o DIR` writes)",
    )
    p.add_argument(
        "--iterations",
        metavar="LIST",
        help="runs, with --pruning: the passes to draw, e.g. 0,1,16 (0 = summarization; "
        "default: up to four spread over the run)",
    )
    p.add_argument("--prefix", default="", help="a prefix for the file names")
    add_format_argument(p)


#: ``--format`` choices (== spatten_sim.plots.style.FORMATS)
FIGURE_FORMATS = ("png", "pdf", "svg")


def add_format_argument(p: argparse.ArgumentParser) -> None:
    """``--format png|pdf|svg`` (shared by plot, report and validate). The formats are
    spelled out here (and equal ``spatten_sim.plots.style.FORMATS``, a test checks): building the
    parser must not import matplotlib, or every command and ``--help`` would start slowly."""
    p.add_argument(
        "--format",
        dest="format",
        choices=FIGURE_FORMATS,
        default="png",
        help="file format of the figures (default png; pdf and svg are vector graphics)",
    )


def parse_window(text: str | None) -> tuple[int, int] | str | None:
    from spatten_sim.errors import SpattenError

    if not text:
        return None
    if text == "all":
        return "all"
    a, sep, b = text.partition(":")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        raise SpattenError(f"--window {text!r}: expected START:END in cycles") from None
    if not sep or hi <= lo or lo < 0:
        raise SpattenError(f"--window {text!r}: expected 0 <= START < END")
    return lo, hi


def parse_iterations(text: str) -> list[int]:
    """``0,1,16`` -> [0, 1, 16]."""
    from spatten_sim.errors import SpattenError

    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise SpattenError(f"--iterations {text!r}: expected numbers like 0,1,16") from None
    if not vals or min(vals) < 0:
        raise SpattenError(f"--iterations {text!r}: expected numbers >= 0 like 0,1,16")
    return vals


def run(args: argparse.Namespace) -> int:
    from spatten_sim.cli.outputs import ensure_writable_dir
    from spatten_sim.plots import plot_path

    ensure_writable_dir(args.output, f"-o {args.output}")

    kw: dict = {"prefix": args.prefix, "fmt": args.format}
    if args.x:
        kw["x"] = args.x
    if args.metrics:
        kw["metrics"] = args.metrics
    if args.timeline:
        kw["timeline"] = True
    if args.window:
        kw["window"] = parse_window(args.window)
    if args.pruning:
        kw["pruning"] = True
    if args.iterations:
        if not args.pruning:
            from spatten_sim.errors import SpattenError

            raise SpattenError("--iterations chooses the passes of --pruning: add --pruning")
        kw["iterations"] = parse_iterations(args.iterations)
    paths = plot_path(args.path, args.output, **kw)
    if not paths:
        from spatten_sim.errors import SpattenError

        raise SpattenError(f"{args.path}: no figure has data to draw (nothing written)")
    for p in paths:
        print(p)
    return 0
