"""Atomic output files: no partial file, no temporary left, links written through, FIFOs and
devices refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.files import atomic_output, atomic_write, output_target, temporary_path


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_write_and_replace(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "r.json"
    atomic_write(p, "one")
    atomic_write(p, b"two")
    assert p.read_text() == "two"
    assert _names(p.parent) == ["r.json"]


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    p = tmp_path / "r.txt"
    p.write_text("old")
    for exc in (OSError(28, "No space left on device"), KeyboardInterrupt(), SystemExit(143)):
        with pytest.raises(type(exc)), atomic_output(p) as tmp:
            tmp.write_text("half")
            raise exc
        assert p.read_text() == "old"
        assert _names(tmp_path) == ["r.txt"]


def test_symlink_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "real" / "report.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert _names(target.parent) == ["report.json"]  # the temporary was beside the target


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made.json")
    atomic_write(link, "x")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "x"


def test_fifo_and_devices_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SpattenError, match="is a FIFO, not a regular file"):
        atomic_write(fifo, "x")
    with pytest.raises(SpattenError, match="is a device"):
        output_target("/dev/null")
    link = tmp_path / "pipe-link"  # e.g. a link to /proc/self/fd/1 when stdout is a pipe
    link.symlink_to(fifo)
    with pytest.raises(SpattenError, match="is a FIFO"):
        atomic_write(link, "x")
    assert link.is_symlink() and fifo.exists()
    with pytest.raises(SpattenError, match="is a folder"):
        atomic_write(tmp_path, "x")


def test_link_loop_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(SpattenError):
        atomic_write(a, "x")


def test_stale_temporary_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".r.json.{int(dead.stdout)}.tmp"
    stale.write_text("left by a SIGKILL")
    live = tmp_path / f".r.json.{os.getppid()}.tmp"  # a process that is alive
    live.write_text("someone else's write in progress")
    atomic_write(p, "x")
    assert not stale.exists() and live.exists()
    assert temporary_path(p).name == f".r.json.{os.getpid()}.tmp"
