"""Timestamped input events and the bounded queues between I/O threads and the frame loop.

I/O threads (OSC, MIDI, sensor SDKs) parse and push; the frame loop drains once per
frame without blocking. A queue never grows without bound: when it is full the
oldest events go first and are counted, because fresh sensor data beats stale.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at `time`: a sample block, a control, a cue.

    `time` is show seconds, one time base for every source: I/O threads stamp arrivals
    with the runner's clock (`Clock.now()`: live, the wall clock since the show started),
    MIDI and cues with the frame's time, a replay with the time it logged."""

    time: float
    source: str  # who sent it: "osc:127.0.0.1:5000", "midi:nanoKONTROL2", "cue", ...
    address: str  # what it is about: a param path, "/dreamer/3/eeg", "/cue/go"
    value: tuple[object, ...] = field(default_factory=tuple)


class EventQueue:
    """A bounded, thread-safe FIFO with drop counting."""

    def __init__(self, maxlen: int = 65536) -> None:
        self._items: deque[Event] = deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self.dropped: Counter[str] = Counter()
        self.pushed = 0

    def push(self, event: Event) -> None:
        with self._lock:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped["queue full"] += 1
            self._items.append(event)
            self.pushed += 1

    def drain(self, limit: int | None = None) -> list[Event]:
        """Everything queued now (or the oldest `limit`), without blocking on producers."""
        with self._lock:
            n = len(self._items) if limit is None else min(limit, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def __len__(self) -> int:
        return len(self._items)
