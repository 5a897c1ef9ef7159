"""Checks that an output location can be written, made *before* a command does its work.

A command that simulates, extracts or validates for minutes must not find out at the end that
its ``-o`` folder cannot be created, nor leave an empty folder behind when it fails:
:func:`ensure_writable_dir` checks, without creating anything, that the folder exists and is
writable or that its nearest existing ancestor is a writable folder; the command creates it
(:func:`make_output_dir`) only when it has results to put there. Both raise a one-line
:class:`~spatten_sim.errors.SpattenError` (exit status 2) naming the option.
"""

from __future__ import annotations

import os
from pathlib import Path

from spatten_sim.errors import SpattenError
from spatten_sim.files import output_target


def _existing_ancestor(d: Path, option: str) -> Path:
    cur = d
    while True:
        if cur.exists() or cur.is_symlink():
            return cur
        parent = cur.parent
        if parent == cur:  # pragma: no cover - the root always exists
            return cur
        cur = parent


def ensure_writable_dir(folder: str | Path, option: str) -> Path:
    """Check that ``folder`` can be created or written, creating nothing.

    ``option`` names what the user gave (``"-o results"``) for the error message.
    """
    d = Path(folder)
    anc = _existing_ancestor(d.absolute(), option)
    if not anc.is_dir():
        what = "is not a folder" if anc == d.absolute() else f"has a file in its path ({anc})"
        raise SpattenError(f"{option}: cannot write to {d}: {what}")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise SpattenError(f"{option}: cannot write to {d} (permission denied on {anc})")
    return d


def make_output_dir(folder: str | Path, option: str) -> Path:
    """Create ``folder`` (and parents) now that there is something to write into it."""
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpattenError(f"{option}: cannot write to {d} ({exc.strerror or exc})") from None
    return d


def ensure_writable_file(path: str | Path, option: str) -> Path:
    """Check that the file ``path`` can be written: not a folder, FIFO or device (a symbolic
    link is followed), and its folder exists or can be created. Creates nothing."""
    p = Path(path)
    target = output_target(p, option)
    ensure_writable_dir(target.parent, option)
    return p
