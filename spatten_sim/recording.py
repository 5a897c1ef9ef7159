"""What a run records beside its report, on request: a look inside the run.

:func:`spatten_sim.pipeline.simulate` takes a :class:`RunRecorder` (``recorder=``) and calls
:meth:`RunRecorder.attach` once the workload is built, before the timing phase. Depending on what
was asked for, the recorder keeps

* the **pruning map** (:mod:`spatten_sim.pruning_map`): which tokens and heads the functional
  phase kept at each layer (``pruning.npz`` of ``spatten-sim run -o DIR``);
* the **DRAM batches** (``dram_batches``): one row per batch the fetcher hands the memory model,
  ``(first request's issue cycle, last completion cycle, transactions, bytes)`` (accelerator
  cycles),
  from a pass-through wrapper around the memory model (:class:`DramBatchTap`); they are the DRAM
  track of ``timeline.json`` (:mod:`spatten_sim.timeline`);
* the **DRAM request stream** (``stream``): every request the HBM2 model simulated
  (:class:`~spatten_sim.hw.dram.stream.StreamRecorder`), for ``--dram-trace``
  (:mod:`spatten_sim.dram_trace`).

Recording never changes what is simulated: the tap forwards every call unchanged and only reads
the results, and the stream recorder copies each batch before the controller kernel runs (the
same hook ``spatten-sim bench`` uses). ``tests/test_timeline.py`` checks that the cycles, counters
and energy of a run are the same with and without recording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.hw.memory import MemoryModel
from spatten_sim.workload import Workload

if TYPE_CHECKING:
    from spatten_sim.pruning_map import PruningMap


class DramBatchTap:
    """A memory model that forwards to ``inner`` and notes each batch's span (accelerator
    cycles): the first request's arrival, the last completion, the requests and their bytes."""

    def __init__(self, inner: MemoryModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.description = inner.description
        self.transaction_bytes = inner.transaction_bytes
        self.n_channels = inner.n_channels
        self.peak_bandwidth_gbps = inner.peak_bandwidth_gbps
        self._rows: list[tuple[int, int, int, int]] = []

    def access(
        self, addresses: np.ndarray, arrival_cycles: np.ndarray, is_write: np.ndarray | None = None
    ) -> np.ndarray:
        done = self.inner.access(addresses, arrival_cycles, is_write)
        n = len(done)
        if n:
            self._rows.append(
                (int(arrival_cycles[0]), int(np.max(done)), n, n * self.transaction_bytes)
            )
        return done

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()

    def __getattr__(self, name: str) -> Any:  # anything else the core may read
        return getattr(self.inner, name)

    def batches(self) -> np.ndarray:
        """int64 ``[n, 4]``: start cycle, end cycle, transactions and bytes of every batch, in
        order."""
        return np.array(self._rows, dtype=np.int64).reshape(-1, 4)


class RunRecorder:
    """Asks :func:`~spatten_sim.pipeline.simulate` to keep a look inside the run (see the module
    docstring); after the run, :attr:`pruning`, :attr:`dram_batches` and :attr:`stream` hold
    what was asked for (None otherwise)."""

    def __init__(
        self, *, pruning: bool = False, dram_batches: bool = False, dram_stream: bool = False
    ) -> None:
        self.want_pruning = pruning
        self.want_batches = dram_batches
        self.want_stream = dram_stream
        self.pruning: PruningMap | None = None
        self._tap: DramBatchTap | None = None
        self._stream_recorder: Any = None
        self._preset = ""

    def attach(self, workload: Workload, memory: MemoryModel, input_kind: str) -> MemoryModel:
        """Take what is asked for from ``workload`` and hook into ``memory``; returns the memory
        model the timing phase must use (``memory`` itself, or a tap around it)."""
        if self.want_pruning:
            from spatten_sim.pruning_map import pruning_map

            self.pruning = pruning_map(workload, input_kind)
        if self.want_stream:
            from spatten_sim.hw.dram.stream import StreamRecorder

            dram = getattr(memory, "inner", memory)
            if not hasattr(dram, "recorder"):
                raise SpattenError(
                    f"--dram-trace: the '{memory.name}' memory model issues no DRAM commands "
                    "to record; use an HBM2 memory preset (memory.preset: hbm2)"
                )
            self._stream_recorder = dram.recorder = StreamRecorder()
            self._preset = str(getattr(dram, "name", memory.name))
        if self.want_batches:
            self._tap = DramBatchTap(memory)
            return self._tap
        return memory

    @property
    def dram_batches(self) -> np.ndarray | None:
        """int64 ``[n, 4]`` (start cycle, end cycle, transactions, bytes), when asked for."""
        return None if self._tap is None else self._tap.batches()

    @property
    def stream(self):
        """The recorded :class:`~spatten_sim.hw.dram.stream.RecordedStream`, when asked for."""
        if self._stream_recorder is None:
            return None
        return self._stream_recorder.stream(self._preset)


# ------------------------------------------------------------------ the CLI's use of it
def check_dram_trace(cfg: Any, path: str, fmt: str | None) -> str:
    """Before a run with ``--dram-trace PATH``: the format to write, a writable ``PATH``, and a
    memory model with DRAM requests to record; one-line :class:`SpattenError` otherwise."""
    from spatten_sim.cli.outputs import ensure_writable_file
    from spatten_sim.dram_trace import trace_format

    chosen = trace_format(path, fmt)
    if dict(cfg.memory).get("preset", "hbm2") == "ideal":
        raise SpattenError(
            "--dram-trace: the 'ideal' memory model issues no DRAM commands to record; use an "
            "HBM2 memory preset (memory.preset: hbm2)"
        )
    ensure_writable_file(path, f"--dram-trace {path}")
    return chosen


def recorder_for(*, output: str | None, timeline: bool, dram_trace: str | None) -> RunRecorder:
    """What ``spatten-sim run`` records: the pruning map for ``-o DIR``, the DRAM batches for
    ``--timeline -o DIR`` (``timeline.json``), the request stream for ``--dram-trace``."""
    return RunRecorder(
        pruning=bool(output), dram_batches=bool(output and timeline), dram_stream=bool(dram_trace)
    )


def write_recorded(
    recorder: RunRecorder,
    report: Any,
    *,
    output: str | None,
    dram_trace: str | None = None,
    dram_trace_format: str | None = None,
) -> list[str]:
    """Write what ``recorder`` kept: ``pruning.npz`` and (with a timeline) ``timeline.json`` in
    ``output``, and the DRAM trace; returns one line per file written, for the progress log."""
    from pathlib import Path

    from spatten_sim import pruning_map as pm_mod
    from spatten_sim import timeline as tl_mod

    done: list[str] = []
    if output:
        out = Path(output)
        if recorder.pruning is not None:
            done.append(str(recorder.pruning.save(out / pm_mod.FILE_NAME)))
        if report.timeline is not None:
            trace = tl_mod.perfetto_trace(report, recorder.dram_batches)
            path = tl_mod.write_perfetto(out / tl_mod.FILE_NAME, trace)
            done.append(
                f"{path} (Perfetto / chrome://tracing, {len(trace['traceEvents']):,} events)"
            )
    stream = recorder.stream
    if dram_trace and stream is not None:
        from spatten_sim.dram_trace import trace_format, write_dram_trace

        fmt = trace_format(dram_trace, dram_trace_format)
        n = write_dram_trace(dram_trace, stream, fmt)
        done.append(f"{dram_trace} ({n:,} DRAM requests, {fmt} format)")
    return done
