"""``spatten-sim run HW.yaml INPUT``: simulate one input on one configuration."""

from __future__ import annotations

import argparse
import sys

HELP = "simulate a trace (.npz) or an official workload (.csv) on a hardware configuration"
DESCRIPTION = """\
Simulate SpAtten on one input and report cycles, DRAM access, energy and throughput.

HW is a hardware YAML file or the name of a shipped preset (spatten, spatten_1_8, dense,
ablation/1_dedicated ... ablation/5_progressive_quant). INPUT is an attention trace (.npz,
see `spatten-sim trace` and traces/) or an official SpAtten workload CSV (replayed with the
official driver's bit mappings).

examples:
  spatten-sim run hw_configs/spatten.yaml traces/minilm-sst-25.npz
  spatten-sim run spatten traces/minilm-sst-25.npz --set policy.token_pruning.end_keep_ratio=0.5
  spatten-sim run spatten_1_8 workload.csv --json - > report.json
  spatten-sim run dense trace.npz -o results/dense   # report.json, config.yaml, layers.csv
  spatten-sim run spatten gpt2-small --timeline -o runs/gpt2   # + timeline.csv, timeline.json
  spatten-sim run spatten traces/minilm-sst-25.npz --dram-trace minilm.dramsim3
  spatten-sim run spatten gpt2-small --dram-trace gpt2.trace --dram-trace-format ramulator2

Looking inside a run (docs/report.md): -o DIR also writes pruning.npz (the tokens and heads
kept at each layer; `spatten-sim plot DIR --pruning`); with --timeline, timeline.json is a
Chrome/Perfetto trace (open it in https://ui.perfetto.dev): a track per unit, the layers and
iterations, the DRAM batches. --dram-trace writes the run's DRAM requests for Ramulator 2
(LoadStoreTrace: `LD 0x<addr>` lines) or DRAMsim3 (`0x<addr> READ <cycle>` lines).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hw", metavar="HW", help="hardware YAML file or shipped preset name")
    p.add_argument("input", metavar="INPUT", help="trace (.npz) or official workload (.csv)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one configuration field (repeatable), e.g. --set topk.comparators=4",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="write the report as JSON to PATH ('-' for stdout: the summary then goes to "
        "stderr); it embeds the resolved configuration (provenance.config)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write report.json, config.yaml (the configuration with every field resolved) and "
        "the per-layer layers.csv to DIR",
    )
    p.add_argument(
        "--timeline",
        action="store_true",
        help="record every unit's busy/stall intervals (timeline.csv in -o DIR; for "
        "`spatten-sim plot --timeline`) and timeline.json, a Chrome/Perfetto trace of the units, "
        "layers, iterations and DRAM batches",
    )
    p.add_argument(
        "--dram-trace",
        metavar="PATH",
        help="write the run's DRAM request stream to PATH, for Ramulator 2 or DRAMsim3 (HBM2 "
        "memory models only); the format from --dram-trace-format or the name: *.ramulator2, "
        "*.dramsim3 (optionally + .trace)",
    )
    p.add_argument(
        "--dram-trace-format",
        choices=("ramulator2", "dramsim3"),
        help="ramulator2: LoadStoreTrace lines `LD 0x<addr>` (no timing); dramsim3: "
        "`0x<addr> READ <memory cycle>`",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print no summary or progress")


def _check_writable(args: argparse.Namespace) -> None:
    """Refuse an output that cannot be written *before* the simulation, not after it."""
    from spatten_sim.cli.outputs import ensure_writable_dir, ensure_writable_file

    if args.output:
        ensure_writable_dir(args.output, f"-o {args.output}")
    if args.json and args.json != "-":
        ensure_writable_file(args.json, f"--json {args.json}")


def _write_outputs(args: argparse.Namespace, report, cfg, progress, recorder=None) -> None:
    """The run folder (``-o``: its ``config.yaml`` is the fully resolved configuration) and the
    ``--json`` file (it embeds that configuration as ``provenance.config``; nothing beside it).
    What ``recorder`` kept (pruning.npz, timeline.json, the DRAM trace) is written first."""
    if recorder is not None:
        from spatten_sim.recording import write_recorded

        for line in write_recorded(
            recorder,
            report,
            output=args.output,
            dram_trace=args.dram_trace,
            dram_trace_format=args.dram_trace_format,
        ):
            progress(f"wrote {line}")
    if args.output:
        from spatten_sim.provenance import resolved_yaml

        out = report.write_dir(args.output, resolved_yaml(cfg))
        progress(f"wrote {out / 'report.json'}, {out / 'config.yaml'}, {out / 'layers.csv'}")
    if args.json and args.json != "-":
        from spatten_sim.files import atomic_write

        atomic_write(args.json, report.to_json() + "\n")


def run(args: argparse.Namespace) -> int:
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import simulate
    from spatten_sim.recording import check_dram_trace, recorder_for

    cfg = load_config(args.hw, args.sets)
    _check_writable(args)
    if args.dram_trace:
        check_dram_trace(cfg, args.dram_trace, args.dram_trace_format)
    recorder = recorder_for(output=args.output, timeline=args.timeline, dram_trace=args.dram_trace)
    to_stdout = args.json == "-"
    info = sys.stderr if to_stdout else sys.stdout

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[spatten-sim] {msg}", file=sys.stderr, flush=True)

    report = simulate(
        cfg,
        args.input,
        progress=progress,
        record_timeline=args.timeline,
        provenance_extra={"sets": list(args.sets), "command_line": list(sys.argv)},
        recorder=recorder,
    )
    try:
        _write_outputs(args, report, cfg, progress, recorder)
    except OSError as exc:
        # the simulation is done: never lose it; the report goes to stdout instead
        sys.stdout.write(report.to_json() + "\n")
        print(
            f"spatten-sim run: error: writing the results failed ({exc}); "
            "the report was written to stdout instead",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        print(report.summary(), file=info)
    if to_stdout:
        sys.stdout.write(report.to_json() + "\n")
    return 0
