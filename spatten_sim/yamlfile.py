"""Reading YAML (configurations, sweep spaces, energy tables, ``--set`` values) safely, with
one-line errors.

* Only plain data: the safe loader (no Python objects).
* Numbers as people write them: ``1e12`` and ``2.5E-3`` are floats (YAML 1.2), not strings
  as under PyYAML's YAML 1.1 rules.
* Bounded: a file over :data:`MAX_YAML_BYTES`, or one whose aliases expand to more than
  :data:`MAX_YAML_NODES` values (a "billion laughs" file of nested anchors), or nested deeper
  than :data:`MAX_YAML_DEPTH`, is refused before anything walks it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from spatten_sim.errors import SpattenError

MAX_YAML_BYTES = 1 << 20
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2's float syntax (``1e12``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


#: the same loader on libyaml's parser (about 10x faster), for the files shipped in the package
#: only: a user's file keeps the pure-Python parser (libyaml's recursion has no depth guard)
_CLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):
    _CLoader = type(
        "_CLoader",
        (yaml.CSafeLoader,),
        {
            "__doc__": ":class:`_Loader` (same constructor and resolvers) with libyaml's parser.",
            "yaml_implicit_resolvers": _Loader.yaml_implicit_resolvers,
        },
    )


def _size(node: Any, depth: int = 0, budget: list[int] | None = None) -> None:
    """Walk ``node`` as a tree (aliases counted every time they appear), within the caps."""
    budget = budget if budget is not None else [MAX_YAML_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"expands to more than {MAX_YAML_NODES:,} values (nested aliases?)")
    if depth > MAX_YAML_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_YAML_DEPTH} levels")
    if isinstance(node, dict):
        for k, v in node.items():
            _size(k, depth + 1, budget)
            _size(v, depth + 1, budget)
    elif isinstance(node, list):
        for v in node:
            _size(v, depth + 1, budget)


def parse_yaml(text: str, *, shipped: bool = False) -> Any:
    """Parse YAML text with the rules above; raises ``yaml.YAMLError`` or ``ValueError``.
    ``shipped``: a file of the package itself, parsed with libyaml where PyYAML has it (the same
    data: ``tests/test_yamlfile.py``); a problem in it is reported by the pure-Python parser."""
    if len(text) > MAX_YAML_BYTES:
        raise ValueError(f"is larger than {MAX_YAML_BYTES:,} characters")
    if shipped and _CLoader is not None:
        try:
            data = yaml.load(text, Loader=_CLoader)
        except yaml.YAMLError:
            pass  # the pure-Python parser below gives the error its usual words
        else:
            _size(data)
            return data
    try:
        data = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise ValueError(f"is nested deeper than {MAX_YAML_DEPTH} levels") from None
    _size(data)
    return data


def read_yaml(
    path: str | Path, error: type[SpattenError] = SpattenError, prefix: str = "",
    *, shipped: bool = False,
) -> Any:  # fmt: skip
    """The parsed content of ``path``; an unreadable file, bad UTF-8, invalid or oversized YAML
    raises ``error`` with one line naming the file (and the line of a syntax error).
    ``shipped``: a file of the package itself (:func:`parse_yaml`)."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_YAML_BYTES:
            raise error(f"{prefix}{path}: larger than {MAX_YAML_BYTES:,} B (not a configuration)")
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise error(f"{prefix}{path}: cannot read ({why})") from None
    try:
        return parse_yaml(text, shipped=shipped)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{prefix}{path}: not valid YAML{where}") from None
    except ValueError as exc:
        raise error(f"{prefix}{path}: {exc}") from None
