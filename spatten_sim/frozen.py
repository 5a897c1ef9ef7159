"""Deeply immutable JSON-like data: read-only mappings of read-only mappings and tuples.

:func:`freeze` turns a document of dicts, lists and scalars into :class:`FrozenDict` and tuples
(nothing of the original is shared, so changing the original later changes nothing);
:func:`thaw` gives back fresh plain dicts and lists, equal to what was frozen. A frozen
document is hashable, picklable and compares equal to the plain one it came from
(``FrozenDict({"a": 1}) == {"a": 1}``; lists come back as tuples, so compare those with
:func:`thaw` or as tuples).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["FrozenDict", "freeze", "thaw"]


class FrozenDict(Mapping[str, Any]):
    """A read-only mapping that keeps its keys' order; its values are frozen (:func:`freeze`) when
    it is built.

    >>> d = FrozenDict({"a": 1, "b": 2})
    >>> d["a"], list(d), d == {"a": 1, "b": 2}
    (1, ['a', 'b'], True)
    >>> d["a"] = 3
    Traceback (most recent call last):
    ...
    TypeError: 'FrozenDict' object does not support item assignment
    """

    __slots__ = ("_d",)
    _d: dict[str, Any]

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_d", {k: freeze(v) for k, v in (items or {}).items()})

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"'FrozenDict' object is read-only (cannot set {name!r})")

    def __hash__(self) -> int:
        return hash(frozenset(self._d.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            return self._d == other._d
        if isinstance(other, Mapping):
            return self._d == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._d!r})"

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (FrozenDict, (self._d,))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self  # nothing inside can change


def freeze(obj: Any) -> Any:
    """``obj`` with every mapping made a :class:`FrozenDict` and every list or tuple a tuple,
    all the way down (scalars are kept as they are)."""
    if isinstance(obj, FrozenDict):
        return obj  # frozen all the way down when it was built
    if isinstance(obj, Mapping):
        return FrozenDict(obj)
    if isinstance(obj, (list, tuple)):
        return tuple(freeze(v) for v in obj)
    return obj


def thaw(obj: Any) -> Any:
    """A fresh plain copy of ``obj``: every mapping a new ``dict``, every list or tuple a new
    ``list`` (what ``json.loads`` of its JSON would give)."""
    if isinstance(obj, Mapping):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [thaw(v) for v in obj]
    return obj
