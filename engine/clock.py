"""Clocks: the one source of time for everything in a show.

Live runs on the wall clock, offline renders on a frame clock where frame n is at
n / fps exactly. Both hand out :class:`Tick` values, so the frame loop never asks
the operating system what time it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Tick:
    """One frame's view of time."""

    frame: int
    time: float  # seconds since the show started
    dt: float  # seconds since the previous tick (0 on the first)


class Clock(Protocol):
    fps: float

    def tick(self) -> Tick: ...

    def now(self) -> float:
        """Show seconds now: what I/O threads stamp their events with (Event.time)."""
        ...


class FrameClock:
    """Offline clock: frame n is at n / fps, whatever the wall clock says.

    Time is computed from the frame number (not accumulated), so a long render
    does not drift and two renders agree to the bit.
    """

    def __init__(self, fps: float, start_frame: int = 0) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self._period = Fraction(fps).limit_denominator(1001000) ** -1
        self._next = start_frame

    def time_of(self, frame: int) -> float:
        return float(frame * self._period)

    def now(self) -> float:
        """Offline there is no 'now' but the frame's: the latest tick's time."""
        return self.time_of(max(self._next - 1, 0))

    def tick(self) -> Tick:
        n = self._next
        self._next += 1
        dt = float(self._period) if n > 0 else 0.0
        return Tick(n, self.time_of(n), dt)


class RealtimeClock:
    """Live clock: time is the wall clock since start (monotonic), frames are counted."""

    def __init__(self, fps: float, now: float | None = None) -> None:
        self.fps = float(fps)
        self._t0 = time.perf_counter() if now is None else now
        self._frame = 0
        self._last = 0.0

    def now(self) -> float:
        """Seconds since the show started, on the wall clock (any thread may ask)."""
        return time.perf_counter() - self._t0

    def tick(self) -> Tick:
        t = self.now()
        dt = t - self._last if self._frame > 0 else 0.0
        tick = Tick(self._frame, t, dt)
        self._frame += 1
        self._last = t
        return tick
