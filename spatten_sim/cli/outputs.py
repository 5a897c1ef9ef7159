"""Checks that an output location can be written, made *before* a command does its work.

A command that simulates, extracts or validates for minutes must not find out at the end that
its ``-o`` folder cannot be created: :func:`ensure_writable_dir` creates the folder and writes a
temporary file in it, and raises a one-line :class:`~spatten_sim.errors.SpattenError` (exit
status 2) naming the option when either fails.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from spatten_sim.errors import SpattenError


def ensure_writable_dir(folder: str | Path, option: str) -> Path:
    """Create ``folder`` (and its parents) and check a file can be written there.

    ``option`` names what the user gave (``"-o results"``) for the error message.
    """
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as exc:
        raise SpattenError(f"{option}: cannot write to {d} ({exc.strerror or exc})") from None
    return d


def ensure_writable_file(path: str | Path, option: str) -> Path:
    """Check that the file ``path`` can be written (its folder is created when missing)."""
    p = Path(path)
    if p.is_dir():
        raise SpattenError(f"{option}: {p} is a folder, expected a file name")
    ensure_writable_dir(p.parent, option)
    return p
