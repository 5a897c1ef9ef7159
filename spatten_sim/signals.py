"""Signals: SIGTERM and SIGHUP end a command the way Ctrl-C does, and worker processes never
outlive the process that started them.

* :func:`handling_termination` (used by the CLI around every command) turns SIGTERM and SIGHUP
  into :class:`Terminated`, a :class:`KeyboardInterrupt`, so the same clean-up runs as for
  Ctrl-C: temporary files are removed (:mod:`spatten_sim.files`), a sweep writes its table and
  stops its workers, and the command exits with ``128 + signal`` (143 for SIGTERM) after one line
  on stderr.
* :func:`worker_init` runs first in every worker process a command starts: on Linux the kernel
  kills the worker when its parent dies, whatever killed the parent (``PR_SET_PDEATHSIG``, even
  after a SIGKILL); elsewhere, and as a second line of defence, a thread polls the parent's pid.
  Workers ignore SIGINT: the parent decides what Ctrl-C does.
* :func:`exit_at_once_on_signal` (used by the ``spatten-sim`` process once its command has
  returned): a signal that arrives while the interpreter shuts down (which can take a while with
  Numba's thread pool loaded) ends the process at once with ``128 + signal`` and one line on
  stderr, instead of Python's default (a SIGTERM kill, or a KeyboardInterrupt in the middle of
  finalization). Only for a process's entry point: a caller that runs commands in-process (a
  sweep worker, a test) keeps its own handlers. After the last exit handler the interpreter
  tears down in C and resets its signal handlers to the default, so a SIGTERM there would still
  kill the process (status -15 instead of 143); from that moment the signals are held instead
  (POSIX), and the process ends with its command's own status (the command had finished).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

#: signals handled like Ctrl-C
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (a :class:`KeyboardInterrupt`, so Ctrl-C's clean-up runs)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def handling_termination() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Terminated` and SIGINT raises
    :class:`KeyboardInterrupt` (Python's own handler), unless the signal is ignored (main thread
    only; elsewhere a no-op). The previous handlers are restored on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, *TERMINATING)}
    for s in old:
        if old[s] is not signal.SIG_IGN:  # nohup-style ignoring is the user's choice: keep it
            handler = signal.default_int_handler if s == signal.SIGINT else _raise_terminated
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def exit_at_once_on_signal(say: Callable[[str], None]) -> None:
    """From now on SIGINT, SIGTERM and SIGHUP flush stdout and stderr, print one line through
    ``say`` and end the process with ``os._exit(128 + signal)``: the command has already
    finished and closed its files, so there is nothing left to clean up. Main thread only (a
    no-op elsewhere); a signal the user ignores (``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _exit_now(signum: int, frame: FrameType | None) -> None:
        try:
            say(f"{signal.Signals(signum).name} while exiting (the command had finished)")
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
        finally:
            os._exit(128 + signum)

    held = [s for s in (signal.SIGINT, *TERMINATING) if signal.getsignal(s) is not signal.SIG_IGN]
    for s in held:
        signal.signal(s, _exit_now)
    if hasattr(signal, "pthread_sigmask"):
        # registered now, so it runs after the exit handlers registered later (atexit is last in,
        # first out): from there on the interpreter's teardown would meet a default handler
        atexit.register(_hold, held)


def _hold(signals: Sequence[int]) -> None:
    """Block ``signals`` for the rest of the process (they are discarded at its exit)."""
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(interval)


def worker_init(parent_pid: int, poll_seconds: float = 1.0) -> None:
    """First thing in a worker process: die with the parent, leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    t = threading.Thread(
        target=_watch_parent, args=(parent_pid, poll_seconds), name="parent-watch", daemon=True
    )
    t.start()
