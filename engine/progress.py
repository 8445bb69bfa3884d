"""Progress of a long job: a bar with ETA on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts frames done out of `total`. On a terminal it draws tqdm's bar; anywhere else
    (a CI log, a file) it prints one line every `every` seconds and one at the end."""

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        every: float = 5.0,
    ) -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self.enabled = enabled
        self._stream = stream or sys.stderr
        self._every = every
        self._t0 = self._last = time.perf_counter()
        self._bar: tqdm | None = None
        if enabled and self._stream.isatty():
            self._bar = tqdm(total=total, unit="frame", desc=desc, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self.set(self.done + n)

    def set(self, done: int) -> None:
        """The count now (a retried chunk can take it back)."""
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        now = time.perf_counter()
        if self.enabled and self._bar is None and now - self._last >= self._every:
            self._last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self._t0, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        print(
            f"{self.desc}: {self.done}/{self.total} frames, {rate:.1f} frames/s, eta {left:.0f} s",
            file=self._stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self._line(time.perf_counter())
