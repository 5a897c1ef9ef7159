"""``spatten-sim presets``: the presets, sweep spaces, traces and workloads that ship."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "list the shipped presets, sweep spaces, traces and official workloads (usable by name)"
DESCRIPTION = """\
List what ships with spatten-sim. Every entry can be named instead of a path, from any folder:

  presets     hardware configurations: the HW argument of run, the base of a sweep space
  sweeps      example sweep spaces (spatten-sim sweep <path shown>)
  traces      small real attention traces: the INPUT argument of run
  workloads   the official SpAtten workload CSVs (MIT; replayed with the official driver)

examples:
  spatten-sim presets
  spatten-sim presets --kind trace
  spatten-sim run spatten minilm-sst-25
  spatten-sim run spatten_rtl gpt2-small
  spatten-sim presets --json - | python -c "import json,sys; print(len(json.load(sys.stdin)))"
"""

KINDS = ("preset", "sweep", "trace", "workload")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=KINDS, action="append", help="only this kind (repeatable)")
    p.add_argument(
        "--paths", action="store_true", help="print the file path of every entry as well"
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="write the list as JSON (kind, name, path, description) to PATH ('-' for stdout)",
    )


def run(args: argparse.Namespace) -> int:
    from spatten_sim.errors import SpattenError
    from spatten_sim.shipped import list_shipped

    items = [s for s in list_shipped() if not args.kind or s.kind in args.kind]
    if not items and not args.kind:
        raise SpattenError("no shipped data found: the installation is incomplete")
    if args.json:
        doc = [
            {"kind": s.kind, "name": s.name, "path": str(s.path), "description": s.description}
            for s in items
        ]
        text = json.dumps(doc, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
            return 0
        from spatten_sim.cli.outputs import ensure_writable_file
        from spatten_sim.files import atomic_write

        ensure_writable_file(args.json, f"--json {args.json}")
        atomic_write(args.json, text)
        return 0
    width = max((len(s.name) for s in items), default=0)
    for kind in KINDS:
        group = [s for s in items if s.kind == kind]
        if not group:
            continue
        print(f"{kind}s:")
        for s in group:
            desc = str(s.path) if args.paths else s.description
            print(f"  {s.name:<{width}}  {desc}".rstrip())
    return 0
