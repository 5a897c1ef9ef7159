"""Types of numeric command-line options, checked when the command line is parsed.

``type=int`` lets through ``--requests 99999999999999999999`` (a Python int, which overflows the
first C or NumPy integer it meets) and refuses ``--requests 1e6`` (how people write a million).
:func:`integer` reads an integer written either way and refuses a fraction, NaN or infinity;
:func:`count` also checks it against the upper end of its limit (:mod:`spatten_sim.limits`), so
an impossible value is one line from the parser (``argument --requests: '1e12': at most
67,108,864 requests (...)``) and never reaches an array or a kernel. The lower end (0, a
negative value) is the command's to check: its message says what the value would mean. Finite
floats: :func:`finite_float`.

Only :mod:`spatten_sim.limits` is imported here (``--help`` stays instant).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from spatten_sim.limits import LIMITS, short


def integer(text: str) -> int:
    """An argparse ``type``: ``12``, ``0x10``, ``1e6``, ``1_000`` as an integer (no fraction, NaN
    or infinity)."""
    s = text.strip()
    try:
        return int(s, 0)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{short(text)}: expected an integer") from None
    if not math.isfinite(f) or f != int(f):
        raise argparse.ArgumentTypeError(f"{short(text)}: expected an integer")
    return int(f)


def count(limit: str) -> Callable[[str], int]:
    """An argparse ``type``: an :func:`integer` at most the upper end of limit ``limit`` of
    :data:`spatten_sim.limits.LIMITS`."""
    lim = LIMITS[limit]

    def parse(text: str) -> int:
        v = integer(text)
        if v > lim.hi:
            raise argparse.ArgumentTypeError(f"{short(text)}: {lim.at_most()}")
        return v

    parse.__name__ = f"{limit} count"  # argparse names the type in some messages
    return parse


def finite_float(text: str) -> float:
    """An argparse ``type``: a finite float (no NaN, no infinity)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{short(text)}: expected a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{short(text)}: expected a finite number")
    return v
