"""``spatten-sim diff A B``: what differs between two reports, run folders or sweeps."""

from __future__ import annotations

import argparse
import sys

HELP = "compare two reports, run folders or sweep folders: every key that differs, and why"
DESCRIPTION = """\
Compare two results and print every key whose value differs (dotted key, A, B, B - A and the
change in % for numbers), the difference of the configurations, and whether the provenance says
the simulator (version, code fingerprint, git commit) or the input (SHA-256 of the file) changed.

A and B are both reports -- a report JSON (spatten-sim run --json) or a run folder (spatten-sim
run -o DIR, holding report.json) -- or both sweep folders (spatten-sim sweep -o DIR). Sweep rows
are matched by their trace and axis values; rows found in one sweep only are listed.

Not compared unless --all: the report's `sim` section (the simulator's wall clock) and the
provenance fields that change from run to run (timestamp, command line, --set list,
environment). A changed simulator or input is reported, but A and B are equal when their results
and configurations are.

exit status: 0 equal, 1 different, 2 bad input (a missing path, not a report, a report and a
sweep).

examples:
  spatten-sim run spatten traces/minilm-sst-25.npz --json a.json -q
  spatten-sim run spatten traces/minilm-sst-25.npz --set topk.comparators=4 --json b.json -q
  spatten-sim diff a.json b.json                  # the configuration and every result that moved
  spatten-sim diff runs/before runs/after --rtol 1e-9
  spatten-sim diff results/topk-old results/topk  # two sweeps, row by row
  spatten-sim diff a.json b.json --json - | jq .results
  spatten-sim diff -q a.json b.json && echo same
"""


def _tolerance(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="report JSON, run folder or sweep folder")
    p.add_argument("b", metavar="B", help="the same kind as A")
    p.add_argument(
        "--rtol",
        type=_tolerance,
        default=0.0,
        metavar="R",
        help="numbers within a relative difference R count as equal "
        "(|B - A| <= R * max(|A|, |B|); default 0: exact)",
    )
    p.add_argument(
        "--atol",
        type=_tolerance,
        default=0.0,
        metavar="X",
        help="numbers within an absolute difference X count as equal (default 0)",
    )
    p.add_argument(
        "--all",
        dest="include_all",
        action="store_true",
        help="also compare the `sim` section and every provenance field (timestamp, command "
        "line ...); then a changed simulator or input counts as a difference",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="write the comparison as JSON to PATH ('-' for stdout: the text then goes to "
        "stderr); keys in docs/report.md",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing; only the exit status tells"
    )


def run(args: argparse.Namespace) -> int:
    import json

    from spatten_sim.diff import compare

    if args.json and args.json != "-":
        from spatten_sim.cli.outputs import ensure_writable_file

        ensure_writable_file(args.json, f"--json {args.json}")
    cmp = compare(args.a, args.b, rtol=args.rtol, atol=args.atol, include_all=args.include_all)
    if not args.quiet:
        print(cmp.text(), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        doc = json.dumps(cmp.to_dict(), indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(doc)
        else:
            from spatten_sim.errors import SpattenError
            from spatten_sim.files import atomic_write

            try:
                atomic_write(args.json, doc, f"--json {args.json}")
            except OSError as exc:
                raise SpattenError(
                    f"--json {args.json}: cannot write ({exc.strerror or exc})"
                ) from None
    return 0 if cmp.equal else 1
