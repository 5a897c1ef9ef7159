"""No input a user can write crashes, hangs, exhausts memory or leaves debris.

Every case of the corpus (``make_corpus.py``: bad configurations, ``--set`` values, traces,
official CSVs, sweep spaces, ``dram-bench`` options and patterns, run and sweep folders, output
paths) runs as ``python -m spatten_sim ...`` in a fresh folder of its own, and must end with

* exit status 2 (a user error; 1 is an internal error, a signal or a timeout is a hang or a crash),
* exactly one line on stderr, with no ``Traceback`` and no ``internal error``,
* the case folder exactly as the case made it: no new file or folder, no temporary, no input
  changed.

Limits of each run: ``RLIMIT_AS`` (address space) of 2 GiB, set in the child before it starts,
so an input that makes the simulator allocate without bound ends in ``MemoryError`` (which the
CLI must turn into its one-line exit 2) instead of swapping the machine; numba and LLVM reserve
address space when they load, and a good run (``test_a_good_run_passes_under_the_same_limits``)
fits well within 2 GiB. And a wall-clock limit of :data:`TIMEOUT_S` (most cases take a second or
two): a case that runs longer is a hang, and its process group is killed.

The cases run in a pool of :data:`WORKERS` processes at a time (the first test that needs a result
starts the cases selected for this session); each test then checks its own case. The fast suite
runs ``make_corpus.FAST`` (every mechanism at least once, ~200 cases, about 2 minutes on 2
cores); the other cases are variants, marked ``slow``. A case with a ``known`` note is an open
problem: it is expected to fail (strictly, so fixing it shows).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load_corpus():
    spec = importlib.util.spec_from_file_location("bad_inputs_make_corpus", HERE / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


corpus = _load_corpus()

#: address space of every run
ADDRESS_SPACE_BYTES = 2 << 30
#: wall-clock limit of one case
TIMEOUT_S = 60.0
#: cases run at once
WORKERS = max(2, min(4, os.cpu_count() or 2))


@dataclass(frozen=True)
class Outcome:
    """What one run of a case did."""

    status: int | None  #: exit status; None when it was killed for the time limit
    stdout: str
    stderr: str
    seconds: float
    before: dict[str, str]  #: the case folder before the run (path -> kind and digest)
    after: dict[str, str]


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def listing(root: Path) -> dict[str, str]:
    """Every entry below ``root``: relative path -> kind (and content digest of a file)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link -> {os.readlink(p)}"
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISREG(st.st_mode):
                out[rel] = "file " + hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            else:
                out[rel] = f"special {stat.S_IFMT(st.st_mode):o}"
    return out


def run_cli(argv: list[str], cwd: Path, timeout: float = TIMEOUT_S) -> tuple[int | None, str, str]:
    """``python -m spatten_sim *argv`` in ``cwd`` under the limits; (status, stdout, stderr)."""
    env = dict(os.environ)
    env.pop("SPATTEN_SIM_DEBUG", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spatten_sim", *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        preexec_fn=_limit_child,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the process started here
        out, err = proc.communicate()
        return None, out, err


def run_case(case) -> Outcome:
    """Make ``case`` in a fresh folder, run it, and list the folder before and after."""
    with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
        d = Path(tmp)
        corpus.materialize(case, d)
        before = listing(d)
        t0 = time.monotonic()
        status, out, err = run_cli(case.command(d), d)
        seconds = time.monotonic() - t0
        return Outcome(status, out, err, seconds, before, listing(d))


_results: dict[str, concurrent.futures.Future[Outcome]] = {}


def _outcome(request: pytest.FixtureRequest, case_id: str) -> Outcome:
    """The outcome of ``case_id``; the first call starts every selected case in the pool."""
    if not _results:
        selected = [
            item.callspec.params["case_id"]
            for item in request.session.items
            if getattr(item, "originalname", None) == "test_bad_input_is_a_one_line_error"
        ]
        by_id = {c.id: c for c in corpus.cases()}
        pool = concurrent.futures.ThreadPoolExecutor(WORKERS)
        for cid in selected:
            _results[cid] = pool.submit(run_case, by_id[cid])
        pool.shutdown(wait=False)
    if case_id not in _results:  # pragma: no cover - selected after collection
        _results[case_id] = concurrent.futures.Future()
        _results[case_id].set_result(run_case({c.id: c for c in corpus.cases()}[case_id]))
    return _results[case_id].result()


def _params():
    for c in corpus.cases():
        marks = [pytest.mark.slow] if c.slow else []
        if c.known:
            marks.append(pytest.mark.xfail(reason=c.known, strict=True))
        yield pytest.param(c.id, id=c.id, marks=marks)


def test_corpus_is_big_and_covers_every_kind():
    counts = corpus.summary()
    assert sum(counts.values()) >= 150
    assert set(counts) == set(corpus.KINDS)
    assert min(counts.values()) >= 10


@pytest.mark.parametrize("case_id", list(_params()))
def test_bad_input_is_a_one_line_error(request: pytest.FixtureRequest, case_id: str) -> None:
    case = {c.id: c for c in corpus.cases()}[case_id]
    res = _outcome(request, case_id)
    where = f"{case.id}: spatten-sim {' '.join(a[:80] for a in case.argv)}"
    assert res.status is not None, f"{where}: still running after {TIMEOUT_S:.0f} s (a hang)"
    lines = res.stderr.splitlines()
    assert "Traceback" not in res.stderr, f"{where}: traceback\n{res.stderr[-3000:]}"
    assert "internal error" not in res.stderr, f"{where}: {res.stderr[-1000:]}"
    assert res.status == 2, f"{where}: exit status {res.status}, stderr: {res.stderr[-1000:]!r}"
    assert len(lines) == 1, f"{where}: {len(lines)} lines on stderr: {res.stderr[-1000:]!r}"
    assert re.match(r"spatten-sim( [a-z-]+)?: ", lines[0]), f"{where}: {lines[0]!r}"
    added = sorted(set(res.after) - set(res.before))
    removed = sorted(set(res.before) - set(res.after))
    changed = sorted(
        k for k in res.before.keys() & res.after.keys() if res.before[k] != res.after[k]
    )
    assert not added, f"{where}: left behind {added[:5]}"
    assert not removed, f"{where}: removed inputs {removed[:5]}"
    assert not changed, f"{where}: changed inputs {changed[:5]}"


def test_a_good_run_passes_under_the_same_limits(tmp_path: Path) -> None:
    """The harness itself: the bases, unharmed, run under the same address-space and time limits
    and write their outputs (so a failing case fails for its input, not for the limits)."""
    corpus.materialize(
        corpus.Case("good", "trace", (), (("t.npz", corpus.trace_bytes()),)), tmp_path
    )
    status, _, err = run_cli(["run", "spatten", "t.npz", "-o", "out", "-q"], tmp_path)
    assert status == 0, err
    assert (tmp_path / "out" / "report.json").is_file()
    status, _, err = run_cli(["plot", "out", "-o", "figs"], tmp_path)
    assert status == 0, err
    assert (tmp_path / "figs" / "roofline.png").is_file()
    status, _, err = run_cli(["run", "spatten", "gpt2-small", "--json", "r.json", "-q"], tmp_path)
    assert status == 0, err
    assert (tmp_path / "r.json").stat().st_size > 0


def test_the_bases_of_the_corpus_are_valid(tmp_path: Path) -> None:
    """Each bad input is a valid base with one defect: the bases themselves load."""
    from spatten_sim.config import load_config
    from spatten_sim.sweep.space import load_space
    from spatten_sim.trace import load_trace
    from spatten_sim.workload_csv import read_official_rows

    (tmp_path / "t.npz").write_bytes(corpus.trace_bytes())
    assert load_trace(tmp_path / "t.npz").meta.n_heads == corpus.H
    (tmp_path / "w.csv").write_text(corpus.csv_text())
    rows, prov = read_official_rows(tmp_path / "w.csv")
    assert len(rows) == 288 and prov
    (tmp_path / "hw.yaml").write_text("base: spatten\n")
    load_config(tmp_path / "hw.yaml")
    (tmp_path / "space.yaml").write_text(corpus.SPACE_OK)
    assert load_space(tmp_path / "space.yaml").n_combinations == 2
