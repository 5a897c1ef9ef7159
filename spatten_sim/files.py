"""Writing result files so that a crash or a kill never leaves a partial one behind."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed into
    place: a reader sees either the old file or the whole new one."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(p)
    return p
