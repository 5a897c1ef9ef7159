"""The interface every datapath unit implements: stream stages with a rate, a depth and room.

A unit describes its timing as one or more :class:`Stage` s of the streaming pipeline
(docs/timing-model.md §2): a stage takes at most ``rate`` elements a cycle, in order; an element
it takes at cycle ``t`` is available to the next stage at ``t + depth``; at most ``cap``
elements may be between taking by this stage and taking by the next (``depth * rate`` in its
elastic pipeline registers plus the next stage's input FIFO). A *barrier* stage (``gate >= 0``)
starts a job only ``gate`` cycles after the previous stage delivered the job's last element.

Both timing models (the SimPy production model and the cycle-stepped reference) read these
figures and nothing else, so a unit is changed -- or swapped for another implementation named by
``impl:`` in ``hw.yaml`` -- in its own module only.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Protocol, TypeAlias, overload

import numpy as np

#: a buffer that never fills (the requantization FIFO, the retire side of probxV)
UNBOUNDED = 1 << 40


@dataclass(frozen=True)
class Stage:
    """One stage of the streaming pipeline."""

    name: str  #: stage name (timeline track), e.g. ``softmax_exp``
    unit: str  #: the report unit it belongs to, e.g. ``softmax``
    rate: int  #: elements taken per cycle (>= 1)
    depth: int  #: cycles from taking an element to it being available downstream (>= 1)
    fifo_after: int  #: input FIFO of the next stage, elements (UNBOUNDED: never fills)
    gate: int = -1  #: barrier: cycles after the previous stage's last element of the job (-1 none)

    @property
    def cap(self) -> int:
        """Elements that may be between this stage taking them and the next stage taking them."""
        if self.fifo_after >= UNBOUNDED:
            return UNBOUNDED
        return self.depth * self.rate + self.fifo_after

    def __post_init__(self) -> None:
        if self.rate < 1 or self.depth < 1 or self.fifo_after < 0:
            raise ValueError(f"stage {self.name}: rate and depth must be >= 1, fifo >= 0")


@overload
def ceil_div(a: int, b: int) -> int: ...
@overload
def ceil_div(a: np.ndarray, b: int) -> np.ndarray: ...
def ceil_div(a: int | np.ndarray, b: int) -> int | np.ndarray:
    """Integer ceiling of ``a / b`` (elementwise for arrays)."""
    return -(-a // b)


def total(x):
    """``x`` summed if it is an array of per-job values, else ``x`` itself: action counts take
    one job's size or an array of many jobs' sizes (the event-free summarization path counts a
    head at once; the counts are integers, so the sums are exact)."""
    return int(x.sum()) if isinstance(x, np.ndarray) else x


#: the action counters a unit's ``count`` adds to: ``actions[unit][action] += ...``
Actions: TypeAlias = Mapping[str, MutableMapping[str, float]]

#: a job's size, or an array of many jobs' sizes (the event-free path counts a head at once)
Sizes: TypeAlias = int | np.ndarray


class SoftmaxUnit(Protocol):
    """What the timing models read from a softmax implementation (``SOFTMAX_IMPLS``)."""

    unit: str  #: the report unit of its first stage
    input_fifo: int  #: entries of its input FIFO (QxK's ``next_fifo``)
    rate: int  #: elements a cycle

    def stages(self, next_fifo: int) -> tuple[Stage, ...]: ...

    def count(self, actions: Actions, n: Sizes) -> None: ...


class TopkUnit(Protocol):
    """What the timing models read from a top-k engine implementation (``TOPK_IMPLS``)."""

    rate: int  #: elements a cycle (fill, emit, pass)
    depth: int  #: cycles from taking an element to handing it on

    @overload
    def is_select(self, n: int, m: int, cycles: int) -> bool: ...
    @overload
    def is_select(self, n: np.ndarray, m: np.ndarray, cycles: np.ndarray) -> np.ndarray: ...

    @overload
    def extra_rounds(self, n: int, cycles: int) -> int: ...
    @overload
    def extra_rounds(self, n: np.ndarray, cycles: np.ndarray) -> np.ndarray: ...

    def count(self, actions: Actions, unit: str, cycles: int) -> None: ...
