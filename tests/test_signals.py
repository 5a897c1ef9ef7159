"""Killing a run or a sweep (SIGINT, SIGTERM, SIGKILL) at a random moment: no process survives,
no partial file under a final name, no temporary left once the command is run again, and a
resumed sweep's table equals an uninterrupted one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "spatten_sim"]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(d.name)] = int(fields[1])
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (only its parent's bookkeeping is left)


def _wait_gone(pids: set[int], seconds: float = 15.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {p for p in pids if _alive(p)}
        if not left:
            return set()
        time.sleep(0.1)
    return {p for p in pids if _alive(p)}


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") and ".tmp" in p.name]


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("space")
    sp = d / "space.yaml"
    data = {
        "base": "spatten",
        "traces": ["mpnet-wiki-128"],
        "axes": {"topk.comparators": [1, 2, 4, 8, 16, 32], "memory.channels": [2, 4, 8, 16]},
    }
    sp.write_text(yaml.safe_dump(data, sort_keys=False))
    return sp


@pytest.fixture(scope="module")
def uninterrupted(space: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("full") / "out"
    res = subprocess.run([*CLI, "sweep", str(space), "-o", str(out), "-j", "1", "-q"],
                         capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return (out / "results.csv").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_killed_sweep_leaves_no_process_and_resumes_identically(
    sig: int, space: Path, uninterrupted: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cmd = [*CLI, "sweep", str(space), "-o", str(out), "-j", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pts = out / "points"
    deadline = time.monotonic() + 300
    # wait until the worker processes exist, then a random moment more (before, during or
    # after the first points are stored)
    while time.monotonic() < deadline and len(_children(proc.pid)) < 3:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    kids = _children(proc.pid)
    assert kids, "the sweep should have started worker processes"
    time.sleep(random.Random(sig).uniform(0.0, 3.0))
    kids |= _children(proc.pid)
    proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0 or sig == signal.SIGKILL:  # it may have finished just before
        assert rc == EXIT[sig], err
    if sig != signal.SIGKILL and rc != 0:
        assert "Traceback" not in err
        assert f"sweep: {'interrupted' if sig == signal.SIGINT else 'terminated'}" in err
        assert not _temporaries(out), _temporaries(out)
    assert not _wait_gone(kids), "worker processes outlived the sweep"
    for p in pts.glob("*.json"):  # every stored point is whole
        json.loads(p.read_text())
    res = subprocess.run(
        [*cmd[:-1], "-q"], capture_output=True, text=True, timeout=600, check=False
    )
    assert res.returncode == 0, res.stderr
    assert (out / "results.csv").read_text() == uninterrupted
    assert not _temporaries(out)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_killed_run_leaves_no_partial_file(sig: int, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [*CLI, "run", "spatten", "mpnet-wiki-128", "-o", str(run_dir),
           "--json", str(tmp_path / "r.json")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(random.Random(int(sig)).uniform(0.5, 3.0))
    kids = _children(proc.pid)
    proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    err = proc.stderr.read() if proc.stderr else ""
    if rc != 0:
        assert rc == EXIT[sig], err
        if sig != signal.SIGKILL:
            assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(
                "spatten-sim run: "
            )
            assert not _temporaries(tmp_path)
    assert not _wait_gone(kids)
    for name in ("r.json", "run/report.json"):
        p = tmp_path / name
        if p.exists():
            assert json.loads(p.read_text())["cycles"] > 0  # whole, or absent
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    assert not _temporaries(tmp_path)
    assert json.loads((run_dir / "report.json").read_text())["cycles"] > 0


def test_sigterm_handler_is_restored_after_main() -> None:
    from spatten_sim.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["presets", "--kind", "workload"]) == 0
    assert signal.getsignal(signal.SIGTERM) == before


def test_worker_init_dies_with_its_parent(tmp_path: Path) -> None:
    """A grandchild armed by worker_init exits when its parent is SIGKILLed."""
    pidfile = tmp_path / "child.pid"
    code = f"""
import multiprocessing as mp, os, time
from spatten_sim.signals import worker_init
def child():
    time.sleep(600)
if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    from concurrent.futures import ProcessPoolExecutor
    pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=worker_init, initargs=(os.getpid(),))
    fut = pool.submit(time.sleep, 600)
    time.sleep(3)
    open({str(pidfile)!r}, "w").write(" ".join(str(p) for p in pool._processes))
    time.sleep(600)
"""
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pidfile.exists()
    kids = _children(parent.pid)
    assert {int(p) for p in pidfile.read_text().split()} <= kids
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    assert not _wait_gone(kids, 10), "a worker survived its parent's SIGKILL"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_during_shutdown_exits_with_its_status_and_one_line(sig: int) -> None:
    """A signal that lands after the command returned, while the interpreter shuts down, still
    ends the process with 128 + signal and one ``spatten-sim COMMAND:`` line (Python's default
    would be a bare SIGTERM kill, or a KeyboardInterrupt in the middle of finalization)."""
    code = (
        "import os, signal, sys, time\n"
        "from spatten_sim.cli import console\n"
        "status = console(['presets'])\n"
        "assert status == 0, status\n"
        f"os.kill(os.getpid(), {int(sig)})\n"
        "time.sleep(5)\n"
        "sys.exit(status)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == EXIT[sig], res.stderr
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("spatten-sim presets: ") and "while exiting" in last, res.stderr
    assert res.stdout.strip(), "what the command printed before the signal is kept"


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_signal_after_the_last_exit_handler_is_held_not_a_kill() -> None:
    """After the last exit handler the interpreter resets its signal handlers to the default
    while it tears down; a SIGTERM there would kill the process (-15, not 143). The signals are
    held from that moment, and the process ends with the command's status. An exit handler
    registered before ``console`` runs after its own, in that last stretch."""
    code = (
        "import atexit, os, signal, sys\n"
        "def late():\n"
        "    held = signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
        "    print('held', sorted(int(s) for s in held), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "atexit.register(late)\n"
        "from spatten_sim.cli import console\n"
        "sys.exit(console(['presets']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, (res.returncode, res.stderr)
    held = next(ln for ln in res.stdout.splitlines() if ln.startswith("held "))
    assert {int(signal.SIGINT), int(signal.SIGTERM), int(signal.SIGHUP)} <= set(
        json.loads(held[5:])
    )
    assert "while exiting" not in res.stderr and "Traceback" not in res.stderr


def test_signal_handlers_are_restored_for_in_process_callers() -> None:
    """``main`` (run in-process by sweep workers and tests) leaves the caller's handlers as it
    found them."""
    from spatten_sim.cli import main

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert main(["presets"]) == 0
    assert {s: signal.getsignal(s) for s in before} == before
