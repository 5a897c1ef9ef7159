"""The sizes spatten-sim accepts, declared once and checked before anything is allocated.

A trace, an official workload CSV, a configuration or a command-line option can name sizes far
beyond any real model or chip (``head_id 1000000000``, ``memory.channels: 1e12``). Every loader
checks each count it reads against the limit here *before* it builds arrays from it, and refuses
it with one line naming the field and the limit (``head_id 1000000000: at most 4096 heads``).

The limits are generous on purpose: well past today's largest attention layers (Llama-3-405B:
126 layers, 128 query heads, head size 128; contexts of 128 K tokens) and past any plausible
accelerator (SpAtten: 1,024 multipliers, 196 KB K/V SRAM, 16 HBM2 channels), while low enough
that the simulator's own per-layer, per-head and per-token tables stay within a few GiB.
``docs/limits.md`` lists them with the reason for each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spatten_sim.errors import SpattenError


@dataclass(frozen=True)
class Limit:
    """An inclusive range of one count, with its unit and why it is there."""

    name: str
    lo: int
    hi: int
    unit: str
    why: str

    def at_most(self) -> str:
        """The tail of every "too large" message: ``at most 4,096 heads (why)``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"at most {self.hi:,}{unit} ({self.why})"


def _lim(name: str, lo: int, hi: int, unit: str, why: str) -> Limit:
    return Limit(name, lo, hi, unit, why)


#: every limit, by name
LIMITS: dict[str, Limit] = {
    lim.name: lim
    for lim in (
        _lim("layers", 1, 1024, "layers", "126 in Llama-3-405B"),
        _lim("heads", 1, 4096, "heads", "128 query heads in Llama-3-405B"),
        _lim("head_dim", 1, 4096, "elements", "head sizes are 32 to 256 today"),
        _lim(
            "tokens", 1, 1 << 20, "tokens", "1 M-token contexts; the K/V cache of one head is O(T)"
        ),
        _lim("iterations", 1, 1 << 16, "iterations", "generation steps of one run"),
        _lim("layer_heads", 1, 1 << 18, "layer x head pairs", "per-(layer, head) address tables"),
        _lim("rows", 1, 1 << 24, "rows", "official CSV rows (one per iteration, layer, head)"),
        _lim("requests", 1, 1 << 26, "requests", "DRAM requests of one dram-bench run (~1 GiB)"),
        _lim("channels", 1, 1024, "channels", "HBM3 stacks have 16 to 32 channels each"),
        _lim("multipliers", 1, 1 << 20, "multipliers", "SpAtten: 512 + 512; a die holds ~10^5"),
        _lim("comparators", 1, 1 << 16, "comparators", "SpAtten: 16 per top-k array"),
        _lim("sram_bytes", 1, 1 << 34, "B", "16 GiB: past any on-chip SRAM"),
        _lim("clock_hz", 1_000, 100 * 10**9, "Hz", "1 kHz to 100 GHz"),
        _lim("bits", 1, 64, "bits", "fixed-point widths"),
        _lim("seed", 0, 2**63 - 1, "", "a 64-bit signed seed"),
        _lim("cycles", 0, 2**62, "cycles", "fits every 64-bit counter with room"),
        _lim("depth", 0, 1 << 20, "entries", "FIFO and queue depths"),
        _lim("jobs", 1, 1024, "processes", "worker processes of one command"),
    )
}

#: longest error line spatten-sim prints (values in messages are cut to fit)
MAX_MESSAGE_CHARS = 400


def limit(name: str) -> Limit:
    return LIMITS[name]


def check_count(name: str, value: Any, where: str) -> int:
    """``value`` as an int within limit ``name``, else a one-line :class:`SpattenError`.

    ``where`` names the field (``"head_id"``, ``"buffers.key_sram_bytes"``); the message reads
    ``head_id 1000000000: at most 4096 heads``.
    """
    lim = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpattenError(f"{where}: expected an integer, got {short(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise SpattenError(f"{where}: expected an integer, got {short(value)}")
        value = int(value)
    unit = f" {lim.unit}" if lim.unit else ""
    if value > lim.hi:
        raise SpattenError(f"{where} {short(value)}: {lim.at_most()}")
    if value < lim.lo:
        raise SpattenError(f"{where} {short(value)}: at least {lim.lo:,}{unit}")
    return value


def check_index(name: str, value: int, where: str) -> int:
    """A 0-based index (``layer_id``, ``head_id``): ``value + 1`` must be within limit ``name``
    (the message names the index as given: ``head_id 4096: at most 4,096 heads``)."""
    lim = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpattenError(f"{where}: expected an integer, got {short(value)}")
    if value < 0:
        raise SpattenError(f"{where} {value}: must be >= 0")
    if value + 1 > lim.hi:
        raise SpattenError(f"{where} {short(value)}: {lim.at_most()}")
    return value


def short(value: Any, n: int = 60) -> str:
    """``repr(value)``, cut to ``n`` characters (an error line never carries a huge value)."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= n else text[: n - 3] + "..."


def cap_message(text: str, n: int = MAX_MESSAGE_CHARS) -> str:
    """One line of at most ``n`` characters (newlines folded, the middle cut)."""
    one = " ".join(str(text).split())
    if len(one) <= n:
        return one
    keep = (n - 5) // 2
    return f"{one[:keep]} ... {one[-keep:]}"
