"""Reading back the JSON documents spatten-sim writes, with one-line errors.

``plot``, ``report`` and ``diff`` read what ``run -o`` and ``sweep -o`` wrote: ``report.json``,
a sweep's ``manifest.json`` and ``points/<id>.json``. Such a file may be truncated, empty, not
UTF-8, not JSON, a list instead of an object, nested a million levels deep or missing the fields
a figure reads. :func:`read_json_object` reads one (size-capped, the parser's own recursion
refused) and :func:`check_fields` checks a document against a declared list of the fields its
reader uses and their kinds, so a bad document is one :class:`~spatten_sim.errors.SpattenError`
naming the file and the field (``run/report.json: dram.bytes_by_stream: expected a mapping of
numbers, got 5``) before anything is drawn or written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.limits import short

#: largest JSON document read back (a sweep point of a big model's report is a few MB)
MAX_DOCUMENT_BYTES = 1 << 30


def read_json(path: str | Path, what: str = "JSON document") -> Any:
    """The parsed content of the JSON file ``path``; one-line :class:`SpattenError` when it
    cannot be read, is too large, is not UTF-8 or is not JSON (``what`` names it)."""
    p = Path(path)
    try:
        if not p.is_file():
            raise SpattenError(f"{p}: no {what} (not a regular file)")
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SpattenError(f"{p}: {size:,} B: larger than {MAX_DOCUMENT_BYTES:,} B")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpattenError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise SpattenError(f"{p}: not a {what} (not UTF-8 text)") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise SpattenError(f"{p}: not a {what} (nested too deeply)") from None
    except ValueError as exc:  # json.JSONDecodeError, and int() of a number over 4,300 digits
        raise SpattenError(f"{p}: not a {what} (invalid JSON: {short(str(exc), 80)})") from None


def read_json_object(path: str | Path, what: str = "JSON document") -> dict[str, Any]:
    """:func:`read_json`, which must give a JSON object."""
    doc = read_json(path, what)
    if not isinstance(doc, dict):
        raise SpattenError(f"{path}: not a {what} (a JSON {type(doc).__name__}, not an object)")
    return doc


@dataclass(frozen=True)
class Kind:
    """What a field must hold: a description (for the message) and the test."""

    name: str
    test: Callable[[Any], bool]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


NUMBER = Kind("a number", _is_number)
INTEGER = Kind("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
TEXT = Kind("a string", lambda v: isinstance(v, str))
MAPPING = Kind("a mapping", lambda v: isinstance(v, dict))
LIST = Kind("a list", lambda v: isinstance(v, list))
PAIR = Kind(
    "a [key, value] pair", lambda v: isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
)


def mapping_of(kind: Kind) -> Kind:
    """A mapping whose every value is ``kind``."""
    return Kind(
        f"a mapping of {kind.name.removeprefix('a ').removeprefix('an ')}s",
        lambda v: isinstance(v, dict) and all(kind.test(x) for x in v.values()),
    )


def list_of(kind: Kind) -> Kind:
    """A list whose every item is ``kind``."""
    return Kind(
        f"a list of {kind.name.removeprefix('a ').removeprefix('an ')}s",
        lambda v: isinstance(v, list) and all(kind.test(x) for x in v),
    )


#: a field path, its kind, and whether it must be there
Field = tuple[str, Kind, bool]

_MISSING = object()


def _get(doc: Any, dotted: str) -> Any:
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def check_fields(doc: Any, fields: tuple[Field, ...], where: str) -> None:
    """Check ``doc`` against ``fields``; the error names ``where`` (the file) and the field."""
    if not isinstance(doc, dict):
        raise SpattenError(f"{where}: expected a JSON object, got a {type(doc).__name__}")
    for dotted, kind, required in fields:
        v = _get(doc, dotted)
        if v is _MISSING:
            if required:
                raise SpattenError(
                    f"{where}: {dotted}: missing (not a document this version reads)"
                )
            continue
        if not kind.test(v):
            raise SpattenError(f"{where}: {dotted}: expected {kind.name}, got {short(v)}")


#: the fields of a report (``Report.to_dict()``) that ``plot`` and ``report`` read
REPORT_FIELDS: tuple[Field, ...] = (
    ("config", TEXT, True),
    ("cycles", INTEGER, True),
    ("seconds", NUMBER, True),
    ("input", MAPPING, True),
    ("input.path", TEXT, False),
    ("input.model", TEXT, True),
    ("dram", MAPPING, True),
    ("dram.bytes_read", NUMBER, True),
    ("dram.bytes_by_stream", mapping_of(NUMBER), True),
    ("dram.peak_bandwidth_gbps", NUMBER, True),
    ("energy_pj", MAPPING, True),
    ("energy_pj.total", NUMBER, True),
    ("energy_pj.by_unit", mapping_of(NUMBER), True),
    ("throughput", MAPPING, True),
    ("throughput.actual_ops", NUMBER, True),
    ("throughput.gops_actual", NUMBER, True),
    ("throughput.gops_effective", NUMBER, True),
    ("pruning", MAPPING, True),
    ("pruning.tokens_kept_per_layer", mapping_of(list_of(NUMBER)), True),
    ("pruning.heads_kept_per_layer", mapping_of(list_of(NUMBER)), True),
    ("units", MAPPING, False),
)

#: the fields of a sweep's ``manifest.json`` that ``plot``, ``report`` and ``diff`` read
MANIFEST_FIELDS: tuple[Field, ...] = (
    ("name", TEXT, False),
    ("description", TEXT, False),
    ("space", TEXT, False),
    ("base", TEXT, False),
    ("sets", list_of(PAIR), False),
    ("axes", list_of(TEXT), False),
    ("axis_groups", list_of(list_of(TEXT)), False),
    ("constraints", list_of(TEXT), False),
    ("excluded", INTEGER, False),
    ("inputs", list_of(TEXT), False),
    ("points", list_of(MAPPING), True),
)

#: the fields of a finished point's record (``points/<id>.json``) that the readers use
POINT_FIELDS: tuple[Field, ...] = (
    ("status", TEXT, True),
    ("values", list_of(PAIR), False),
)
