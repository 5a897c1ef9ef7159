"""Running a sweep: expand the space, skip what is done, run the rest, store as it finishes."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from spatten_sim.errors import SpattenError
from spatten_sim.sweep.executors import Executor, make_executor
from spatten_sim.sweep.points import (
    Expansion,
    Point,
    expand,
    resolve_inputs,
    simulator_fingerprint,
)
from spatten_sim.sweep.progress import Progress, fmt_duration
from spatten_sim.sweep.runner import PointOutcome, PointTask, functional_key, run_point
from spatten_sim.sweep.space import Recipe, Space, SpaceError, load_space, parse_space
from spatten_sim.sweep.store import PARQUET, SPACE_COPY, ResultStore
from spatten_sim.sweep.table import ResultTable, require_pyarrow


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did (also printed at the end of ``spatten-sim sweep``)."""

    name: str
    out_dir: Path
    executor: str
    points: int  #: points of the space (after the constraints)
    excluded: int  #: combinations left out by the constraints
    skipped: int  #: points already done before this run
    ran: int  #: points finished by this run
    ok: int
    failed: int
    #: (error message, number of points, first point ids), most frequent first
    failures: tuple[tuple[str, int, tuple[str, ...]], ...]
    remaining: int  #: points not done (interrupted, or --max-points reached)
    wall_seconds: float
    interrupted: bool = False
    parquet: bool = False  #: results.parquet was written too

    def text(self) -> str:
        lines = [
            f"sweep {self.name}: {self.points} points"
            + (f" ({self.excluded} excluded by constraints)" if self.excluded else "")
            + f", {self.executor}",
            f"  this run: {self.ran} finished ({self.ok} ok, {self.failed} failed) in "
            f"{fmt_duration(self.wall_seconds)}; {self.skipped} already done before",
        ]
        if self.failures:
            lines.append(f"  failures ({self.failed}):")
            for msg, n, ids in self.failures:
                more = ", ..." if n > len(ids) else ""
                lines.append(f"    {n} x {msg}  [{', '.join(ids)}{more}]")
        if self.remaining:
            why = "interrupted" if self.interrupted else "stopped"
            lines.append(
                f"  {why}: {self.remaining} points left; re-run the same command to continue"
            )
        tables = f"{self.out_dir / 'results.csv'}" + (
            f", {self.out_dir / PARQUET}" if self.parquet else ""
        )
        lines.append(f"  results: {tables} and {self.out_dir / 'points'}/")
        return "\n".join(lines)


def materialize_recipe(recipe: Recipe, out_dir: Path) -> Path:
    """Extract a recipe's trace with ``spatten-sim trace`` into ``out_dir/traces`` (once)."""
    from spatten_sim.cli import main as cli_main

    path = out_dir / "traces" / f"{recipe.slug}.npz"
    if path.is_file():
        return path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["trace"]
    for k, v in recipe.options:
        argv += [f"--{k}", str(v)]
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    argv += ["-o", str(tmp), "--no-progress"]
    status = cli_main(argv)
    if status != 0 or not tmp.is_file():
        raise SpattenError(f"traces: extract {dict(recipe.options)} failed (status {status})")
    tmp.replace(path)
    return path.resolve()


def manifest_of(space: Space, exp: Expansion, inputs: list[Path]) -> dict[str, Any]:
    return {
        "name": space.name,
        "description": space.description,
        "space": str(space.source),
        "base": space.base,
        "sets": [list(kv) for kv in space.sets],
        "axes": list(space.axis_keys),
        "axis_groups": [list(a.keys) for a in space.axes],
        "constraints": list(space.constraints),
        "excluded": exp.excluded,
        "simulator": simulator_fingerprint(),
        "inputs": [str(p) for p in inputs],
        "points": [
            {
                "index": p.index,
                "point_id": p.point_id,
                "trace": p.input_name,
                "values": [list(kv) for kv in p.values],
            }
            for p in exp.points
        ],
    }


def _record(p: Point, out: PointOutcome | None, error: str | None = None) -> dict[str, Any]:
    ok = out is not None and out.ok
    return {
        "point_id": p.point_id,
        "index": p.index,
        "status": "ok" if ok else "failed",
        "error": None if ok else (error or (out.error if out else None)),
        "input": p.input_path,
        "input_sha256": p.input_sha256,
        "values": [list(kv) for kv in p.values],
        "config": p.config,
        "report": out.report if out else None,
        "layers": list(out.layers) if out and out.layers else None,
        "run": {
            "wall_seconds": out.wall_seconds if out else 0.0,
            "worker": out.worker if out else None,
            "workload_reused": out.workload_reused if out else False,
        },
    }


def _plain(obj: Any) -> Any:
    """A space given as a mapping, as the YAML it stands for: mappings as dicts, tuples and
    arrays as lists, numpy scalars as numbers, paths as strings."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if callable(tolist) and type(obj).__module__ == "numpy":
        return _plain(tolist())
    return obj


def space_of(space: Mapping[str, Any] | str | Path, out_dir: Path) -> tuple[Space, str | None]:
    """The parsed space and, for a mapping, its YAML text (what ``space.yaml`` records).

    A mapping has the schema of a space file; its relative paths are relative to the current
    folder and its name defaults to ``sweep``."""
    if not isinstance(space, Mapping):
        return load_space(space), None
    data = _plain(space)
    try:
        text = yaml.safe_dump(data, sort_keys=False)
    except yaml.YAMLError as exc:
        raise SpaceError(f"the space mapping is not plain data (YAML): {exc}") from None
    parsed = parse_space(data, Path.cwd().resolve() / "sweep.yaml")
    return dataclasses.replace(parsed, source=(out_dir / SPACE_COPY).resolve()), text


def run_sweep(
    space: Mapping[str, Any] | str | Path,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    dask: str | None = None,
    retry_failed: bool = False,
    max_points: int | None = None,
    reuse_workload: bool = True,
    show_progress: bool = True,
    stream: TextIO | None = None,
    executor: Executor | None = None,
    task_fn: Callable[[PointTask], PointOutcome] = run_point,
    table_interval_s: float = 1.0,
    parquet: bool = False,
) -> ResultTable:
    """Run (or resume) a sweep into ``out_dir`` and return its table (see :mod:`spatten_sim.sweep`).

    ``space`` is a space file (``space.yaml``, docs/sweeps.md) or a mapping of the same schema
    (relative paths in it are relative to the current folder). The result is a
    :class:`~spatten_sim.sweep.table.ResultTable`: the rows of ``results.csv`` (every point done
    so far, also by earlier runs), typed, with ``.to_frame()`` and ``.summary`` (the
    :class:`SweepSummary` of this run). ``parquet`` also writes ``results.parquet`` (needs
    pyarrow: ``pip install 'spatten-sim[parquet]'``).

    ``task_fn`` is what runs a point (default :func:`run_point`, which calls ``simulate``); it must
    be a picklable top-level function for the process and Dask executors.
    """
    t0 = time.monotonic()
    if max_points is not None and max_points < 0:  # before the results folder is made
        raise SpattenError(f"--max-points: must be >= 0, got {max_points}")
    stream = stream or sys.stderr
    if parquet:
        require_pyarrow("--parquet (results.parquet)")  # before anything runs
    out = Path(out_dir)
    sp, space_text = space_of(space, out)
    inputs = resolve_inputs(sp, lambda r: materialize_recipe(r, out))
    exp = expand(sp, inputs)
    store = ResultStore(out, table_interval_s=table_interval_s, parquet=parquet)
    store.open(sp.source, manifest_of(sp, exp, inputs), space_text=space_text)

    def wanted(p: Point) -> bool:
        st = store.status(p.point_id)
        return st is None or (retry_failed and st == "failed")

    # a sweep may list the same configuration twice (a repeated axis value, the same trace under
    # two names): it is one point
    unique = list({p.point_id: p for p in exp.points}.values())
    todo = [p for p in unique if wanted(p)]
    skipped = len(unique) - len(todo)
    if max_points is not None:
        todo = todo[:max_points]
    by_id = {p.point_id: p for p in todo}
    invalid = [p for p in todo if p.config is None]
    runnable = [p for p in todo if p.config is not None]
    # neighbouring tasks that share a functional configuration reuse one workload
    runnable.sort(key=lambda p: (p.input_path, functional_key(p.config or {})))
    sim = simulator_fingerprint()
    accuracy = sp.accuracy
    if accuracy is not None and runnable:
        from spatten_sim.extract.models import missing_extra

        missing = missing_extra()
        if missing:
            raise SpattenError(
                f"accuracy: the space measures accuracy, which needs the [trace] extra (missing: "
                f"{', '.join(missing)}); install it with `bash .ci/install-trace-extra.sh`, or "
                "remove the accuracy section"
            )
    tasks = [
        PointTask(
            p.point_id, p.config or {}, p.input_path, p.input_sha256, reuse_workload, sim, accuracy
        )
        for p in runnable
    ]
    bar = Progress(len(todo), skipped=skipped, stream=stream, enabled=show_progress)
    failures: Counter[str] = Counter()
    failed_ids: dict[str, list[str]] = {}
    ok = failed = 0
    seen: set[str] = set()

    def take(p: Point, o: PointOutcome | None, error: str | None = None) -> None:
        nonlocal ok, failed
        if p.point_id in seen:  # an executor delivered a result twice: keep the first
            return
        seen.add(p.point_id)
        rec = _record(p, o, error)
        store.add(rec)
        if rec["status"] == "ok":
            ok += 1
        else:
            failed += 1
            failures[rec["error"]] += 1
            failed_ids.setdefault(rec["error"], []).append(p.point_id)
        bar.update(rec["status"] == "ok")

    def lost(task: PointTask, reason: str) -> PointOutcome:
        return PointOutcome(task.point_id, False, reason, None, None, 0.0, "")

    ex = None
    interrupted = False
    try:
        for p in invalid:
            take(p, None, p.error)
        if tasks:
            ex = executor or make_executor(jobs, dask)
            bar.message(
                f"[sweep] {sp.name}: {len(todo)} points to run on {ex.name}"
                + (f" ({skipped} already done)" if skipped else "")
            )
            bar.draw(force=True)
            for o in ex.map_unordered(task_fn, tasks, lost):
                take(by_id[o.point_id], o)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        store.write_table()
        if ex is not None and executor is None:
            ex.close()
        if interrupted:
            bar.message(
                f"[sweep] interrupted: {ok + failed} point{'s' if ok + failed != 1 else ''} "
                f"stored in {out}; "
                "re-run the same command to continue"
            )
    summary = SweepSummary(
        name=sp.name,
        out_dir=out,
        executor=ex.name if ex is not None else "no executor needed",
        points=len(unique),
        excluded=exp.excluded,
        skipped=skipped,
        ran=ok + failed,
        ok=ok,
        failed=failed,
        failures=tuple((msg, n, tuple(failed_ids[msg][:3])) for msg, n in failures.most_common()),
        remaining=sum(1 for p in unique if store.status(p.point_id) is None),
        wall_seconds=time.monotonic() - t0,
        interrupted=interrupted,
        parquet=parquet,
    )
    return ResultTable(store.rows, summary=summary, out_dir=out)
