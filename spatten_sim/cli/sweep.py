"""``spatten-sim sweep SPACE.yaml -o DIR``: run a design-space sweep (docs/sweeps.md)."""

from __future__ import annotations

import argparse

from spatten_sim.cli.options import count, integer

HELP = "run a design-space sweep (configurations x traces) locally or on a Dask cluster"
DESCRIPTION = """\
Run every point of a design space (space.yaml: a base preset, traces, axes over any
configuration key, optional zipped axes and constraints; see docs/sweeps.md) and write one row per
point to DIR/results.csv plus the full report of each point to DIR/points/<id>.json.

Results are stored as each point finishes; re-running the same command skips the points already
done (a point is keyed by a hash of its resolved configuration and the trace's content), so a
killed sweep resumes where it stopped. A failed point records its error and the sweep goes on.

examples:
  spatten-sim sweep hw_configs/sweeps/topk_comparators.yaml -o results/topk
  spatten-sim sweep hw_configs/sweeps/hbm_channels.yaml -o results/hbm --jobs 4
  spatten-sim sweep space.yaml -o results/ --dask local
  spatten-sim sweep space.yaml -o results/ --dask tcp://scheduler:8786
  spatten-sim sweep space.yaml -o results/ --dry-run      # list the points, run nothing
  spatten-sim sweep space.yaml -o results/ --parquet      # also results.parquet (pyarrow)
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", metavar="SPACE.yaml", help="the design space (docs/sweeps.md)")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="results folder (created; resumed)"
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=count("jobs"),
        default=None,
        metavar="N",
        help="local worker processes (default: the number of cores; 1 = in this process); "
        "with --dask local, the number of Dask workers",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on Dask: 'local' (a LocalCluster on this machine) or a scheduler address "
        "such as tcp://host:8786 (workers need spatten-sim installed and the traces at the "
        "same paths); needs pip install -e '.[dist]'",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the points that failed before (default: a failed point counts as done)",
    )
    p.add_argument(
        "--max-points",
        type=integer,
        default=None,
        metavar="N",
        help="run at most N new points, then stop (re-run to continue)",
    )
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="run the functional phase for every point (by default a worker reuses the workload "
        "of points that differ only in hardware keys)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list the points and whether they are done; run none"
    )
    p.add_argument(
        "--parquet",
        action="store_true",
        help="also write the table as DIR/results.parquet, typed columns (needs pyarrow: "
        "pip install 'spatten-sim[parquet]'); a run without it removes an older one",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line, only the summary")


def _dry_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spatten_sim.sweep.points import expand
    from spatten_sim.sweep.space import Recipe, load_space
    from spatten_sim.sweep.store import ResultStore

    space = load_space(args.space)
    out = Path(args.output)
    inputs: list[Path] = []
    pending = []
    for item in space.inputs:
        if isinstance(item, Recipe):
            path = out / "traces" / f"{item.slug}.npz"
            if not path.is_file():
                pending.append(item)
                continue
            item = path.resolve()
        inputs.append(item)
    exp = expand(space, inputs)
    store = ResultStore(out)
    print(f"{space.name}: {len(exp.points)} points ({exp.excluded} excluded by constraints)")
    for r in pending:
        print(f"  + {space.n_combinations} points on a trace not extracted yet: {dict(r.options)}")
    for p in exp.points:
        rec = store.load(p.point_id)
        state = rec["status"] if rec else ("invalid" if p.config is None else "todo")
        vals = ", ".join(f"{k}={v}" for k, v in p.values)
        print(f"  {p.point_id}  {state:7s}  {p.input_name}  {vals}")
    return 0


def run(args: argparse.Namespace) -> int:
    import sys

    from spatten_sim.errors import SpattenError
    from spatten_sim.sweep.engine import run_sweep

    if args.jobs is not None and args.jobs < 1:  # before anything is read or created
        raise SpattenError(f"--jobs: must be >= 1, got {args.jobs}")
    if args.dry_run:
        return _dry_run(args)
    summary = run_sweep(
        args.space,
        args.output,
        jobs=args.jobs,
        dask=args.dask,
        retry_failed=args.retry_failed,
        max_points=args.max_points,
        reuse_workload=not args.no_reuse,
        show_progress=not args.quiet,
        parquet=args.parquet,
    ).summary
    assert summary is not None  # run_sweep always sets it
    print(summary.text(), file=sys.stderr if not args.quiet else sys.stdout)
    return 1 if summary.failed else 0
