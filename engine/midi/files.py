"""Standard MIDI files played back in show time, frame by frame.

The file is read once: mido merges the tracks and converts ticks to seconds through
the file's tempo map as it iterates (every set_tempo honoured), and the channel
messages (notes, control changes, pitch bend, program changes, aftertouch) and
sysex are kept with their absolute times. The frame loop asks for the events in its
window, [t0, t1): consecutive windows give every event exactly once.
"""

from __future__ import annotations

import bisect
from os import PathLike

import mido


class MidiFilePlayer:
    """A MIDI file as a sorted list of (seconds, message)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = path
        mid = mido.MidiFile(path)
        if mid.type == 2:
            raise ValueError(f"{path}: type 2 MIDI files (independent tracks) are not supported")
        times: list[float] = []
        msgs: list[mido.Message] = []
        now = 0.0
        for msg in mid:  # msg.time: seconds since the previous message, tempo map applied
            now += msg.time
            if not msg.is_meta:
                times.append(now)
                msgs.append(msg.copy(time=0))
        self.times = times
        self.messages = msgs
        self.duration: float = max(now, times[-1] if times else 0.0)

    def __len__(self) -> int:
        return len(self.messages)

    def events_between(self, t0: float, t1: float) -> list[tuple[float, mido.Message]]:
        """Every message with t0 <= time < t1, in file order."""
        i = bisect.bisect_left(self.times, t0)
        j = bisect.bisect_left(self.times, t1)
        return list(zip(self.times[i:j], self.messages[i:j], strict=True))

    def controls_at(self, t: float) -> dict[tuple[int, int], int]:
        """(channel, control) -> value after every control change at or before t
        (what a render that starts mid-file must apply first)."""
        j = bisect.bisect_right(self.times, t)
        state: dict[tuple[int, int], int] = {}
        for msg in self.messages[:j]:
            if msg.type == "control_change":
                state[(msg.channel, msg.control)] = msg.value
        return state
