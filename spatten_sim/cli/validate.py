"""``spatten-sim validate``: reproduce SpAtten's published results side by side."""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

from spatten_sim.cli.plot import add_format_argument

HELP = "reproduce the paper's published results: paper vs ours, ratio, tolerance, verdict"
DESCRIPTION = """\
Run the presets on the official SpAtten workloads and on the traces that ship with the package,
and print for every published figure the paper's value, ours, the ratio and a verdict
(pass / fail / info) against a stated tolerance. Writes validation.csv, validation.json and the
figures (breakdown, topk_dse, power; PNG, or --format pdf / svg) and their data (figures.json)
to -o DIR (default: plots/validation/ of the checkout, or validation/ in the current folder for
an installed package; .../quick/ with --quick). A figure without data (the top-k sweep of a
--quick run) is not written; stderr says so.

--quick uses the shipped traces and the official CSVs only (under a minute). The full run also
makes (on first use, cached in $SPATTEN_SIM_CACHE/traces, default ~/.cache/spatten-sim) a SmolLM2
992+32 trace with `spatten-sim trace` (needs the [trace] extra) for the decoder rows.

A row the mode promises but could not compute (an input or an optional module missing, the
simulator refused) is printed as info, and listed on stderr with the reason.

Exit status: 0 when the validation ran, even if rows fail (it is a report; read the verdicts);
3 when a promised row could not be computed (0 with --allow-missing); 2 on a user error (bad
option, unwritable output). $SPATTEN_SIM_WORKLOADS may point at another folder of the official
CSVs. docs/validation.md explains every row.

examples:
  spatten-sim validate --quick
  spatten-sim validate -o results/validation --json -
  spatten-sim validate --quick --only 'dram.*' --no-figures
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick",
        action="store_true",
        help="shipped traces and official CSVs only (under a minute)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="directory for validation.csv, validation.json and the figures "
        "(default plots/validation[/quick] of the checkout)",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="also write the rows as JSON to PATH ('-' for stdout: the table then goes to stderr)",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown to PATH")
    p.add_argument(
        "--update-doc",
        metavar="DOC",
        help="replace the table of this mode (quick/full) between its markers in DOC "
        "(docs/validation.md)",
    )
    p.add_argument(
        "--only",
        metavar="PATTERN",
        action="append",
        default=[],
        help="run only rows whose key matches this glob (repeatable), e.g. 'dram.*'",
    )
    p.add_argument("--no-figures", action="store_true", help="write no figures")
    add_format_argument(p)
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 even when rows could not be computed (they are still listed on stderr)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="simulate in up to N processes (decoder-trace runs beside the others; "
        "default: 2 for the full run if there are 2 CPUs, 1 with --quick)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _write(path: Path, text: str) -> None:
    from spatten_sim.errors import SpattenError
    from spatten_sim.files import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as exc:
        raise SpattenError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from spatten_sim.cli.outputs import ensure_writable_dir, ensure_writable_file
    from spatten_sim.errors import SpattenError
    from spatten_sim.validate import output
    from spatten_sim.validate.context import in_checkout, repo_root
    from spatten_sim.validate.rows import all_rows
    from spatten_sim.validate.runner import run_validation

    keys = [r.key for r in all_rows()]
    for pat in args.only:
        if not fnmatch.filter(keys, pat):
            raise SpattenError(f"--only {pat!r} matches no row (rows: {', '.join(keys)})")
    only = None
    if args.only:
        pats = list(args.only)

        def only(spec) -> bool:
            return any(fnmatch.fnmatch(spec.key, p) for p in pats)

    if args.output:
        out_dir = Path(args.output)
    else:
        out_dir = repo_root() / "plots" / "validation" if in_checkout() else Path("validation")
        if args.quick:
            out_dir = out_dir / "quick"
    if out_dir.exists() and not out_dir.is_dir():
        raise SpattenError(f"-o {out_dir}: not a directory")
    # every output is checked before the (minutes-long) validation runs
    ensure_writable_dir(out_dir, f"-o {out_dir}")
    if args.markdown:
        ensure_writable_file(args.markdown, f"--markdown {args.markdown}")
    if args.json and args.json != "-":
        ensure_writable_file(args.json, f"--json {args.json}")
    to_stdout = args.json == "-"
    info = sys.stderr if to_stdout else sys.stdout

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[validate] {msg}", file=sys.stderr, flush=True)

    jobs = args.jobs
    if jobs is None:
        jobs = 1 if args.quick else min(2, os.cpu_count() or 1)
    if jobs < 1:
        raise SpattenError(f"--jobs must be >= 1, got {jobs}")
    v = run_validation(
        quick=args.quick,
        progress=progress,
        only=only,
        figures=not args.no_figures,
        jobs=jobs,
    )
    print(output.table_text(v), file=info)  # first: a failed write below loses nothing
    _write(out_dir / "validation.csv", output.rows_csv(v))
    _write(out_dir / "validation.json", output.rows_json(v) + "\n")
    written = [out_dir / "validation.csv", out_dir / "validation.json"]
    if not args.no_figures:
        from spatten_sim.validate.figures import write_figures

        try:
            written += write_figures(
                v, out_dir, args.format, say=lambda m: print(f"validate: {m}", file=sys.stderr)
            )
        except OSError as exc:
            raise SpattenError(f"cannot write figures to {out_dir}: {exc}") from None
    if args.markdown:
        _write(Path(args.markdown), output.rows_markdown(v))
        written.append(Path(args.markdown))
    if args.update_doc:
        doc = Path(args.update_doc)
        try:
            text = output.embed_markdown(doc.read_text(), v)
        except (OSError, ValueError) as exc:
            raise SpattenError(f"--update-doc {doc}: {exc}") from None
        _write(doc, text)
        written.append(doc)
    if args.json and not to_stdout:
        _write(Path(args.json), output.rows_json(v) + "\n")
        written.append(Path(args.json))
    progress("wrote " + ", ".join(str(p) for p in written))
    if to_stdout:
        sys.stdout.write(output.rows_json(v) + "\n")
    missing = [r for r in v.rows if r.missing]
    if missing:
        print(
            f"validate: {len(missing)} row(s) of the {v.mode} run could not be computed:",
            file=sys.stderr,
        )
        for r in missing:
            print(f"  {r.key}: {r.missing}", file=sys.stderr)
        if not args.allow_missing:
            print("validate: exit 3 (--allow-missing accepts this)", file=sys.stderr)
            return 3
    return 0
