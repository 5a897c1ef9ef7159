"""Where the points run: this process, local worker processes, or a Dask cluster.

Every executor has one method, :meth:`Executor.map_unordered`: run ``fn`` on every task and yield
the results as they finish (in any order: the store orders the table). The same task function
runs everywhere, so the same sweep gives the same results with any executor.

* ``SerialExecutor``: in this process (``--jobs 1``), for debugging.
* ``ProcessExecutor``: a pool of ``--jobs N`` local processes. If a worker process dies (killed,
  out of memory), the pool is restarted and the unfinished tasks are submitted again (at most
  ``max_restarts`` times; after that they are reported as failed).
* ``DaskExecutor``: ``--dask tcp://host:port`` (an existing scheduler; workers must see the input
  files at the same paths and have spatten-sim installed) or ``--dask local`` (a LocalCluster of
  ``--jobs`` single-threaded worker processes). A task whose worker dies is rescheduled by Dask on
  another worker; the client receives each result once, and the store keys results by point id,
  so nothing is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from spatten_sim.errors import SpattenError


class Executor(Protocol):
    name: str

    def map_unordered(
        self, fn: Callable[[Any], Any], tasks: Sequence[Any], on_lost: Callable[[Any, str], Any]
    ) -> Iterator[Any]:
        """Yield ``fn(task)`` for every task as it finishes; a task lost to an infrastructure
        failure yields ``on_lost(task, reason)`` instead."""
        ...

    def close(self) -> None: ...


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    name = "serial"

    def map_unordered(self, fn, tasks, on_lost):
        for t in tasks:
            yield fn(t)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """A pool of local worker processes (``spawn``: no state inherited from the parent)."""

    def __init__(self, jobs: int, max_restarts: int = 3) -> None:
        if jobs < 1:
            raise SpattenError(f"--jobs: must be >= 1, got {jobs}")
        self.jobs = jobs
        self.max_restarts = max_restarts
        self.name = f"{jobs} local processes"
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        from spatten_sim.signals import worker_init

        ctx = multiprocessing.get_context("spawn")
        # workers die with this process, however it ends (spatten_sim.signals)
        return ProcessPoolExecutor(
            max_workers=self.jobs, mp_context=ctx, initializer=worker_init, initargs=(os.getpid(),)
        )

    def map_unordered(self, fn, tasks, on_lost):
        pending = list(tasks)
        restarts = 0
        while pending:
            finished, broken = yield from self._run_pool(fn, pending)
            pending = [t for t in pending if id(t) not in finished]
            if broken:
                restarts += 1
                if restarts > self.max_restarts:
                    for t in pending:
                        yield on_lost(t, "worker process died repeatedly (killed or out of memory)")
                    return

    def _run_pool(self, fn, pending):
        """Run ``pending`` on a fresh pool until done or the pool breaks; yields the results and
        returns (ids of the finished tasks, whether the pool broke)."""
        pool = self._pool = self._new_pool()
        # a short queue: a restart resubmits little, and the order stays close to the expansion
        # order (neighbouring points share workloads)
        it = iter(pending)
        futs: dict[Future, Any] = {}
        finished: set[int] = set()
        broken = False
        while True:
            while not broken and len(futs) < 2 * self.jobs:
                t = next(it, None)
                if t is None:
                    break
                futs[pool.submit(fn, t)] = t
            if not futs:
                break
            done, _ = wait(futs, return_when=FIRST_COMPLETED)
            for f in done:
                t = futs.pop(f)
                try:
                    res = f.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                finished.add(id(t))
                yield res
            if broken:
                break
        pool.shutdown(wait=not broken, cancel_futures=True)
        self._pool = None
        return finished, broken

    def close(self) -> None:
        """Stop the pool now: an interrupted sweep does not wait for its running points (they
        are not stored; a resumed sweep runs them again)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            _kill_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's worker processes (``ProcessPoolExecutor`` has no public way)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)


class DaskExecutor:
    """A Dask distributed cluster: an existing scheduler's address, or ``local``."""

    def __init__(self, address: str, jobs: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SpattenError("--dask needs Dask distributed: pip install -e '.[dist]'") from None
        self._cluster = None
        try:
            if address == "local":
                self._cluster = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,
                )
                self._client = Client(self._cluster)
                self.name = f"Dask LocalCluster ({jobs} workers)"
            else:
                self._client = Client(address, timeout="10s")
                self.name = f"Dask at {address}"
        except OSError as exc:
            raise SpattenError(f"--dask {address}: cannot connect ({exc})") from None

    @property
    def client(self):
        return self._client

    def map_unordered(self, fn, tasks, on_lost):
        from distributed import as_completed

        futs = {}
        for t in tasks:
            f = self._client.submit(fn, t, key=f"spatten-point-{t.point_id}", pure=False)
            futs[f.key] = (f, t)
        for f in as_completed([f for f, _ in futs.values()]):
            _, t = futs.pop(f.key)
            if f.status == "finished":
                yield f.result()
            else:  # KilledWorker (the task killed its workers repeatedly) or a cancellation
                exc = f.exception()
                yield on_lost(t, f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            f.release()

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_executor(jobs: int | None, dask: str | None) -> Executor:
    """``--jobs`` / ``--dask`` to an executor (``jobs`` None = the core count)."""
    n = default_jobs() if jobs is None else jobs
    if n < 1:
        raise SpattenError(f"--jobs: must be >= 1, got {n}")
    if dask:
        return DaskExecutor(dask, n)
    if n == 1:
        return SerialExecutor()
    return ProcessExecutor(n)
