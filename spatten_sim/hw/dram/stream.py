"""A recorded DRAM request stream: every batch a :class:`~.model.DramMemory` simulated, replayable.

The timing phase hands the HBM2 model one batch per fetch (addresses, arrival cycles in memory
clock cycles, the crossbar's frontend limits). Recording those batches makes the memory model
testable and benchmarkable on its own: replaying a stream through a fresh :class:`DramMemory`
of the same configuration reproduces every completion cycle and counter of the run it came
from, with either controller kernel (``kernel="fast"`` or ``"reference"``). The GPT-2-Medium
replay's stream (22.4 M transactions) is what ``spatten-sim bench`` times the kernel on, and what
``tests/hw/dram/test_stream.py`` checks the two kernels agree on.

File format (``.npz``, no pickles): ``addresses`` and ``arrival`` (int64, all batches
concatenated), ``is_write`` (uint8, empty when no batch wrote), ``offsets`` (int64, batch ``b``
is ``offsets[b]:offsets[b + 1]``), ``frontend`` (int64, one row per batch: in_order, fifo_depth,
per_channel_per_cycle, issue_per_cycle, max_outstanding) and ``preset`` (the memory preset name).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.hw.dram.model import DramMemory, FrontendLimits

_FRONT_FIELDS = ("in_order", "fifo_depth", "per_channel_per_cycle", "issue_per_cycle",
                 "max_outstanding")  # fmt: skip


@dataclass
class StreamRecorder:
    """Collects the batches a :class:`DramMemory` simulates (attach with ``mem.recorder = r``)."""

    addresses: list[np.ndarray] = field(default_factory=list)
    arrival: list[np.ndarray] = field(default_factory=list)
    is_write: list[np.ndarray | None] = field(default_factory=list)
    frontend: list[tuple[int, ...]] = field(default_factory=list)

    def add(
        self, addresses: np.ndarray, arrival: np.ndarray, wr: np.ndarray | None, fe: FrontendLimits
    ) -> None:
        self.addresses.append(np.array(addresses, dtype=np.int64))
        self.arrival.append(np.array(arrival, dtype=np.int64))
        self.is_write.append(None if wr is None else np.array(wr, dtype=np.uint8))
        self.frontend.append(tuple(int(getattr(fe, f)) for f in _FRONT_FIELDS))

    def stream(self, preset: str) -> RecordedStream:
        n = [a.size for a in self.addresses]
        offsets = np.zeros(len(n) + 1, dtype=np.int64)
        np.cumsum(n, out=offsets[1:])
        wrote = any(w is not None and w.any() for w in self.is_write)
        wr = (
            np.concatenate([np.zeros(k, np.uint8) if w is None else w
                            for k, w in zip(n, self.is_write, strict=True)])
            if wrote else np.zeros(0, np.uint8)
        )  # fmt: skip
        cat = np.concatenate
        return RecordedStream(
            addresses=cat(self.addresses) if n else np.zeros(0, np.int64),
            arrival=cat(self.arrival) if n else np.zeros(0, np.int64),
            is_write=wr,
            offsets=offsets,
            frontend=np.array(self.frontend, dtype=np.int64).reshape(-1, len(_FRONT_FIELDS)),
            preset=preset,
        )


@dataclass(frozen=True)
class RecordedStream:
    """Batches of DRAM requests (memory clock cycles) as a timing run handed them over."""

    addresses: np.ndarray
    arrival: np.ndarray
    is_write: np.ndarray
    offsets: np.ndarray
    frontend: np.ndarray
    preset: str

    @property
    def n_batches(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_requests(self) -> int:
        return int(self.addresses.size)

    def save(self, path: str | Path) -> None:
        from spatten_sim.files import atomic_output

        with atomic_output(path) as tmp, open(tmp, "wb") as fh:  # a file object: no ".npz" added
            np.savez(fh, addresses=self.addresses, arrival=self.arrival, is_write=self.is_write,
                     offsets=self.offsets, frontend=self.frontend,
                     preset=np.array(self.preset))  # fmt: skip

    @staticmethod
    def load(path: str | Path) -> RecordedStream:
        try:
            with np.load(path, allow_pickle=False) as z:
                return RecordedStream(
                    addresses=z["addresses"], arrival=z["arrival"], is_write=z["is_write"],
                    offsets=z["offsets"], frontend=z["frontend"], preset=str(z["preset"]),
                )  # fmt: skip
        except (OSError, KeyError, ValueError) as e:
            raise SpattenError(f"{path}: not a recorded DRAM stream ({e})") from None


@dataclass(frozen=True)
class Replay:
    """What replaying a stream gave: per-request completion cycles (memory clock), the model's
    statistics, and the CPU and wall seconds spent in the model."""

    done: np.ndarray
    stats: dict[str, Any]
    cpu_seconds: float
    wall_seconds: float


def replay(stream: RecordedStream, memory: DramMemory) -> Replay:
    """Run every batch of ``stream`` through ``memory`` (fresh, of the recorded configuration)."""
    done = np.empty(stream.n_requests, dtype=np.int64)
    wr_all = stream.is_write if stream.is_write.size else None
    c0, w0 = time.process_time(), time.perf_counter()
    for b in range(stream.n_batches):
        lo, hi = int(stream.offsets[b]), int(stream.offsets[b + 1])
        f = stream.frontend[b]
        fe = FrontendLimits(bool(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]))
        wr = None if wr_all is None else wr_all[lo:hi]
        done[lo:hi] = memory.run_batch(stream.addresses[lo:hi], stream.arrival[lo:hi], wr, fe).done
    c1, w1 = time.process_time(), time.perf_counter()
    return Replay(done=done, stats=memory.stats(), cpu_seconds=c1 - c0, wall_seconds=w1 - w0)
