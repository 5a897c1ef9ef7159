"""A run's timeline as a Chrome / Perfetto trace: ``timeline.json`` of ``run --timeline -o DIR``.

The file is in the Trace Event Format of Chrome's tracing (catapult's "Trace Event Format"
document; the JSON importer of Perfetto reads the same), in its JSON *object* form::

    {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}

and opens in https://ui.perfetto.dev (drag the file in) and in ``chrome://tracing``. What is in it:

* **process 1, "SpAtten accelerator"**: one track (thread, ``tid``) per hardware unit of the
  report's ``units`` (fetcher, bitwidth converter, QxK, softmax, ...; docs/timing-model.md), in
  that order, named by a ``thread_name`` metadata event (``ph: "M"``) and ordered by a
  ``thread_sort_index`` one. Each busy and stall interval of ``timeline.csv`` is a *complete
  event* (``ph: "X"``) named ``busy`` or ``stall`` on its unit's track. (The bitwidth converter
  has no intervals: it is charged as latency, docs/timing-model.md §6.)
* **process 2, "program"**: a track ``iterations`` with one span per pass (``summarization``,
  ``generation 1``, ...: first layer start to last layer end) and a track ``layers`` with one
  span per layer job (``layer 3``; its args: stage, iteration, tokens and heads kept, queries,
  LSB re-fetches, DRAM bytes), from ``layers.csv``.
* **process 3, "DRAM"**: the batches the fetcher handed the memory model, each from its first
  request's issue to its last completion (args: transactions, bytes). Batches overlap in time
  (a batch is issued while the previous one's data still arrive), and the format wants the
  complete events of one track nested, so overlapping spans go to further tracks ``DRAM
  batches 2``, ``3``, ... (the first track that is free; the same for ``layers`` and
  ``iterations`` of a run without the layer barrier).

Times: ``ts`` and ``dur`` are microseconds, from accelerator cycles at the configured clock
(``clock_ghz``), rounded to whole nanoseconds (an interval's end is rounded like the next one's
start, so touching intervals touch: Perfetto keeps nanoseconds); every event's ``args`` hold its
exact ``start_cycle`` and ``end_cycle``. Within a track, complete events are in ``ts`` order.
``otherData`` holds the configuration, input, clock and cycle count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatten_sim.errors import SpattenError

FILE_NAME = "timeline.json"
PID_UNITS, PID_PROGRAM, PID_DRAM = 1, 2, 3
#: first tid of the program process's track groups (lanes are consecutive tids)
TID_ITERATIONS, TID_LAYERS = 1, 101


def _lanes(spans: Sequence[tuple[int, int]]) -> list[int]:
    """A lane per span (spans sorted by start) such that spans of one lane do not overlap; the
    lowest free lane is taken (touching spans share a lane)."""
    ends: list[int] = []
    out = []
    for a, b in spans:
        for k, e in enumerate(ends):
            if e <= a:
                ends[k] = b
                out.append(k)
                break
        else:
            ends.append(b)
            out.append(len(ends) - 1)
    return out


class _Events:
    """Builds the event list; times from cycles at ``clock_ghz``."""

    def __init__(self, clock_ghz: float) -> None:
        self.ns_per_cycle = 1.0 / clock_ghz
        self.events: list[dict[str, Any]] = []
        self.named: set[tuple[int, int]] = set()

    def ns(self, cycle: int) -> int:
        """``cycle`` in whole nanoseconds."""
        return round(cycle * self.ns_per_cycle)

    def process(self, pid: int, name: str) -> None:
        self.events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": name}})
        self.events.append(
            {"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}}
        )

    def thread(self, pid: int, tid: int, name: str) -> None:
        self.named.add((pid, tid))
        self.events.append(
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}
        )
        self.events.append(
            {"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
             "args": {"sort_index": tid}}
        )  # fmt: skip

    def complete(
        self, pid: int, tid: int, name: str, cat: str, a: int, b: int, args: dict | None = None
    ) -> None:
        t0, t1 = self.ns(a), self.ns(b)
        self.events.append(
            {"name": name, "cat": cat, "ph": "X", "ts": t0 / 1000, "dur": max(0, t1 - t0) / 1000,
             "pid": pid, "tid": tid, "args": {"start_cycle": int(a), "end_cycle": int(b),
                                               **(args or {})}}
        )  # fmt: skip

    def laned(
        self,
        pid: int,
        tid0: int,
        title: str,
        cat: str,
        spans: Iterable[tuple[int, int, str, dict]],
    ) -> int:
        """Spans (start, end, name, args) on tracks ``tid0, tid0 + 1, ...`` named ``title``,
        ``title 2``, ...; returns the number of tracks."""
        items = sorted(spans, key=lambda s: (s[0], -s[1]))
        lanes = _lanes([(a, b) for a, b, *_ in items])
        n = max(lanes, default=0) + 1
        for k in range(n):
            self.thread(pid, tid0 + k, title if k == 0 else f"{title} {k + 1}")
        for (a, b, name, args), k in zip(items, lanes, strict=True):
            self.complete(pid, tid0 + k, name, cat, a, b, args)
        return n


def _pass_name(stage: str, iteration: int) -> str:
    return "summarization" if stage == "summarization" else f"generation {iteration}"


def perfetto_trace(report: Any, dram_batches: np.ndarray | None = None) -> dict[str, Any]:
    """The Trace Event Format document of ``report`` (a :class:`~spatten_sim.report.Report`
    with a recorded timeline) and, when given, its DRAM batches (int ``[n, 4]``: start cycle,
    end cycle, transactions, bytes; :class:`spatten_sim.recording.RunRecorder`)."""
    timeline = report.timeline
    if timeline is None:
        raise SpattenError("timeline.json: no timeline recorded (run with --timeline)")
    clock = float(report["clock_ghz"])
    ev = _Events(clock)
    units = list(report["units"])
    for u, *_ in timeline:
        if u not in units:
            units.append(u)
    ev.process(PID_UNITS, "SpAtten accelerator")
    tid_of = {u: i + 1 for i, u in enumerate(units)}
    for u in units:
        ev.thread(PID_UNITS, tid_of[u], u)
    for u, kind, a, b in sorted(timeline, key=lambda r: (tid_of[r[0]], r[2], -r[3])):
        ev.complete(PID_UNITS, tid_of[u], kind, kind, a, b)

    ev.process(PID_PROGRAM, "program")
    layers = [dict(r) for r in report.layers]
    passes: dict[tuple[str, int], list[int]] = {}
    for r in layers:
        key = (str(r["stage"]), int(r["iteration"]))
        span = passes.setdefault(key, [int(r["start_cycle"]), int(r["end_cycle"])])
        span[0] = min(span[0], int(r["start_cycle"]))
        span[1] = max(span[1], int(r["end_cycle"]))
    ev.laned(
        PID_PROGRAM, TID_ITERATIONS, "iterations", "iteration",
        ((a, b, _pass_name(s, i), {"stage": s, "iteration": i})
         for (s, i), (a, b) in passes.items()),
    )  # fmt: skip
    keys = ("stage", "iteration", "tokens_kept", "tokens_total", "heads_kept", "queries",
            "requant_queries", "dram_bytes")  # fmt: skip
    ev.laned(
        PID_PROGRAM, TID_LAYERS, "layers", "layer",
        ((int(r["start_cycle"]), int(r["end_cycle"]), f"layer {r['layer']}",
          {k: r[k] for k in keys if k in r}) for r in layers),
    )  # fmt: skip

    n_lanes = 0
    if dram_batches is not None:
        ev.process(PID_DRAM, "DRAM")
        n_lanes = ev.laned(
            PID_DRAM, 1, "DRAM batches", "dram",
            ((int(a), int(b), "batch", {"transactions": int(n), "bytes": int(nb)})
             for a, b, n, nb in np.asarray(dram_batches).reshape(-1, 4)),
        )  # fmt: skip
    return {
        "traceEvents": ev.events,
        "displayTimeUnit": "ns",
        "otherData": {
            "producer": "spatten-sim (spatten_sim.timeline)",
            "config": report["config"],
            "input": report.get("input.path"),
            "clock_ghz": clock,
            "cycles": int(report["cycles"]),
            "time": "ts/dur in microseconds at clock_ghz, rounded to ns; exact cycles in args",
            "dram_batch_tracks": n_lanes,
        },
    }


def write_perfetto(path: str | Path, trace: dict[str, Any]) -> Path:
    """Write a trace document as compact JSON (atomically)."""
    from spatten_sim.files import atomic_write

    return atomic_write(path, json.dumps(trace, separators=(",", ":")) + "\n")
