"""A small progress bar on stderr for long extractions (generation steps, layers).

On a terminal it redraws one line in place; elsewhere (CI logs) it prints one line when done, so
logs stay short. It holds no global state: each task makes its own :class:`Progress`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(total, "generate") as p: ... p.update()``."""

    def __init__(
        self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.done = 0
        self._start = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        self._draw()

    def _line(self) -> str:
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "." * (width - filled)
        secs = time.perf_counter() - self._start
        return f"{self.label:<12} [{bar}] {self.done}/{self.total} {secs:6.1f} s"

    def _draw(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        self.stream.write(("\r" if self._tty else "") + self._line() + "\n")
        self.stream.flush()
        self.enabled = False
