"""``spatten-sim bench``: the simulator's own speed on a fixed set of workloads."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "time the simulator on a fixed set of workloads (CPU and wall per phase, cycles/s, memory)"

DESCRIPTION = """\
Time spatten-sim itself on a fixed set of workloads: the shipped traces, both official SpAtten
workload CSVs, a SmolLM2 992+32 and an MPNet 512-token trace (made by the extractor on first use
and cached in $SPATTEN_SIM_CACHE, default ~/.cache/spatten-sim; needs the [trace] extra), dense.yaml
on the 992+32 trace, and the HBM2 kernel alone on the GPT-2-Medium replay's recorded DRAM stream
(fast and reference kernel). Each case runs in a process of its own: once to warm up (Numba cache),
then --repeats times. Printed per case (medians): whole-process CPU and wall seconds, CPU seconds
of start-up, functional phase, timing phase (with the DRAM kernel inside it) and report, simulated
cycles and cycles per CPU second of the timing phase, events, DRAM transactions and transactions
per CPU second of the kernel, peak memory (MiB).

No figure here is a pass/fail test: shared machines are noisy. Compare runs of one session.

examples:
  spatten-sim bench --quick                        # the CI subset, about a minute
  spatten-sim bench --json after.json              # everything (several minutes)
  spatten-sim bench --source /tmp/old --json before.json   # another checkout, same harness
  spatten-sim bench --compare before.json --json after.json
  spatten-sim bench --case gpt2-medium-csv --case hbm2-kernel
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spatten_sim.bench import case_names

    parser.add_argument("--quick", action="store_true",
                        help="only the quick subset (README command, shipped decoder trace, "
                        "GPT-2-Small CSV, HBM2 kernel on its stream)")  # fmt: skip
    parser.add_argument("--case", action="append", default=[], metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(case_names())}")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, metavar="N",
                        help="measured runs per case after the warm-up (default 3; --quick: 1)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH",
                        help="write the figures as JSON ('-' for stdout: the table then goes to "
                        "stderr)")  # fmt: skip
    parser.add_argument("--compare", metavar="OLD.json",
                        help="print each figure beside the one in OLD.json with the new/old ratio")  # fmt: skip
    parser.add_argument("--source", metavar="DIR",
                        help="measure the spatten_sim package in DIR (another checkout) instead of "
                        "this one, with this harness")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spatten_sim.bench import (
        CASES,
        bench_document,
        case_names,
        format_compare,
        format_table,
        load_bench,
        run_case,
        summarize,
    )
    from spatten_sim.errors import SpattenError
    from spatten_sim.files import atomic_write

    unknown = [c for c in args.case if c not in case_names()]
    if unknown:
        raise SpattenError(
            f"--case: unknown case {unknown[0]!r} (known: {', '.join(case_names())})"
        )
    if args.repeats < 1 or args.repeats > 100:
        raise SpattenError(f"--repeats: must be 1..100 (got {args.repeats})")
    if args.source and not (Path(args.source) / "spatten_sim" / "__init__.py").is_file():
        raise SpattenError(f"--source: {args.source} holds no spatten_sim package")
    old = load_bench(args.compare) if args.compare else None
    repeats = args.repeats if (not args.quick or args.repeats != 3) else 1
    cases = [
        c for c in CASES if (c.name in args.case) or (not args.case and (c.quick or not args.quick))
    ]
    out = sys.stderr if args.json == "-" else sys.stdout

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"bench: {msg}", file=sys.stderr, flush=True)

    results = []
    for c in cases:
        res = run_case(c, repeats, progress, args.source)
        if res.error:
            progress(f"{c.name}: not run ({res.error})")
        results.append(summarize(res))
    doc = bench_document(results, args.source)
    print(format_table(doc), file=out)
    if old is not None:
        print("", file=out)
        print(f"compared with {args.compare}:", file=out)
        print(format_compare(old, doc), file=out)
    if args.json == "-":
        print(json.dumps(doc, indent=2))
    elif args.json:
        atomic_write(args.json, json.dumps(doc, indent=2) + "\n")
    ran = [d for d in results if "error" not in d]
    return 0 if ran else 1
