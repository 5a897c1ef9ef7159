"""A progress line on stderr: points done, failures, elapsed and estimated time left.

On a terminal the line is redrawn in place; otherwise (a log file, CI) a line is printed at most
every ``interval_s`` seconds and at the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def fmt_duration(seconds: float) -> str:
    s = round(max(0.0, seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Counts finished points of a sweep and draws the progress line."""

    def __init__(
        self,
        total: int,
        *,
        skipped: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        interval_s: float = 10.0,
        width: int = 24,
    ) -> None:
        self.total = total  #: points to run now (not counting those already done)
        self.skipped = skipped
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval_s = interval_s
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last = 0.0

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = int(frac * self.width)
        bar = "#" * fill + "." * (self.width - fill)
        elapsed = time.monotonic() - self.t0
        left = elapsed / self.done * (self.total - self.done) if self.done else None
        eta = fmt_duration(left) if left is not None else "--:--"
        skip = f", {self.skipped} already done" if self.skipped else ""
        return (
            f"[sweep] [{bar}] {self.done}/{self.total} points ({self.failed} failed{skip}) "
            f"{fmt_duration(elapsed)} elapsed, {eta} left"
        )

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self.draw(force=self.done == self.total)

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if force else ""))
            self.stream.flush()
        elif force or now - self._last >= self.interval_s:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now

    def message(self, text: str) -> None:
        """A line of its own (not overwritten by the bar)."""
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()
