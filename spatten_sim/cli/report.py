"""``spatten-sim report PATH -o report.html``: one readable page of a run or a sweep."""

from __future__ import annotations

import argparse

from spatten_sim.cli.plot import add_format_argument

HELP = "write one readable page (HTML, or Markdown + PNGs) of a run folder or a sweep folder"
DESCRIPTION = """\
Write a single page a person reads: the configuration, the summary (every figure with its unit)
and the standard figures of PATH.

PATH is a run folder (spatten-sim run -o DIR; with --timeline the page includes the unit
occupancy timeline) or a sweep results folder (spatten-sim sweep -o DIR: the space, a table of
every point's latency, energy, DRAM traffic and fidelity, the failed points, the figures).

OUT ending in .html is one self-contained file (figures embedded); OUT ending in .md is Markdown
with its figures in OUT_files/ beside it. --format svg draws the figures as SVG (shown inline
too); --format pdf shows PNGs and writes the PDFs into OUT_files/, linked from the page. Every
link is relative to the page. Run pages have the summary, units, energy and per-layer tables.

examples:
  spatten-sim run spatten traces/minilm-sst-25.npz --timeline -o runs/minilm
  spatten-sim report runs/minilm -o runs/minilm/report.html
  spatten-sim report results/topk -o results/topk/report.md
  spatten-sim report results/topk -o results/topk/report.html --format svg
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="run folder or sweep results folder")
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="report.html or report.md to write"
    )
    add_format_argument(p)


def run(args: argparse.Namespace) -> int:
    from spatten_sim.cli.outputs import ensure_writable_file
    from spatten_sim.plots.page import write_report

    ensure_writable_file(args.output, f"-o {args.output}")
    print(write_report(args.path, args.output, args.format))
    return 0
