"""Reading YAML files with one-line errors (configurations, sweep spaces, energy tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spatten_sim.errors import SpattenError


def read_yaml(path: str | Path, error: type[SpattenError] = SpattenError, prefix: str = "") -> Any:
    """The parsed content of ``path``; an unreadable file, bad UTF-8 or invalid YAML raises
    ``error`` with one line naming the file (and the line of a syntax error)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise error(f"{prefix}{path}: cannot read ({why})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{prefix}{path}: not valid YAML{where}") from None
