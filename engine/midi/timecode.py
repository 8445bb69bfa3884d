"""MIDI Time Code in: the stage's timeline, and the show's cue list following it.

MTC comes as quarter-frame messages (0xF1, four a frame: eight pieces, a nibble each,
carry one HH:MM:SS:FF and the rate, so one timecode takes two frames to arrive) and
as full-frame sysex (F0 7F dev 01 01 hh mm ss ff F7) when the sender locates. The
eight pieces of a cycle describe the frame at which its first piece was sent, so
at the arrival of the eighth the timeline is 7/4 frames past it; in between, each
quarter frame in order moves the position on by a quarter. Between messages the
position runs on at the rate, for at most `freewheel` seconds after the last one
(a dropout); longer, and the timeline has stopped where the messages stopped.

A locate is a full frame, the first lock, or a cycle that lands more than 2.5 frames
from where the running position said it would: the cue list then seeks (the show's
``seek_cues``). Played backwards, the position follows each completed cycle only.

Messages are stamped on arrival, in rtmidi's own thread (a callback that only queues),
so the position does not wobble with the frame loop's rate.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from typing import Protocol

import mido

from engine.midi.ports import Backend, MidiInput
from engine.smpte import MTC_RATES, RATES, Timecode, TimecodeSpec

log = logging.getLogger("oneiric.timecode")
JUMP_FRAMES = 2.5  # a cycle further than this from the running position is a locate


def quarter_frames(tc: Timecode) -> list[mido.Message]:
    """The eight quarter frames that send `tc` (piece 0 goes out at frame `tc`)."""
    rate = MTC_RATES.index(tc.rate)
    nibbles = (tc.frames, tc.seconds, tc.minutes, tc.hours | rate << 5)
    values = [n >> shift & 0xF for n in nibbles for shift in (0, 4)]
    return [
        mido.Message("quarter_frame", frame_type=k, frame_value=v) for k, v in enumerate(values)
    ]


def full_frame(tc: Timecode, device: int = 0x7F) -> mido.Message:
    """The full-frame sysex a sender locates with."""
    hours = tc.hours | MTC_RATES.index(tc.rate) << 5
    return mido.Message(
        "sysex", data=(0x7F, device, 1, 1, hours, tc.minutes, tc.seconds, tc.frames)
    )


def _timecode(hours: int, minutes: int, seconds: int, frames: int) -> Timecode:
    return Timecode(
        hours & 0x1F, minutes & 0x3F, seconds & 0x3F, frames & 0x1F, MTC_RATES[hours >> 5 & 3]
    )


def _is_full_frame(data: tuple[int, ...]) -> bool:
    """Universal real-time sysex (7F), any device, MTC (01) full message (01)."""
    return len(data) == 8 and data[0] == 0x7F and data[2:4] == (1, 1)


class MtcClock:
    """The timecode position from MTC messages fed with their arrival times."""

    def __init__(self, freewheel: float = 0.2) -> None:
        self.freewheel = freewheel
        self.rate: str | None = None
        self.timecode: Timecode | None = None  # the latest complete one
        self.locates = 0  # jumps seen (full frames, first lock, discontinuities)
        self._pieces: list[int | None] = [None] * 8
        self._next_piece = 0
        self._anchor: tuple[float, float] | None = None  # (arrival, frames on the timeline)
        self._last_quarter = -math.inf
        self._jumped = False

    def feed(self, msg: mido.Message, t: float) -> None:
        if msg.type == "quarter_frame":
            self._quarter(msg.frame_type, msg.frame_value, t)
        elif msg.type == "sysex" and _is_full_frame(msg.data):  # a locate
            tc = _timecode(*msg.data[4:8])
            self._locate(tc, float(tc.frame_number()), t)
            self._last_quarter = -math.inf  # located: the timeline waits for quarters

    def _quarter(self, piece: int, value: int, t: float) -> None:
        running = t - self._last_quarter <= self.freewheel
        if self._anchor is not None and running and piece == self._next_piece:
            self._anchor = (t, self._anchor[1] + 0.25)
        self._last_quarter = t
        self._next_piece = (piece + 1) % 8
        if piece == 0:
            self._pieces = [None] * 8
        self._pieces[piece] = value
        if piece != 7 or any(p is None for p in self._pieces):
            return
        p = [int(x or 0) for x in self._pieces]
        tc = _timecode(p[6] | p[7] << 4, p[4] | p[5] << 4, p[2] | p[3] << 4, p[0] | p[1] << 4)
        frames = tc.frame_number() + 1.75
        if self._anchor is None or abs(self._anchor[1] - frames) > JUMP_FRAMES:
            self._locate(tc, frames, t)
        else:
            self.timecode, self.rate, self._anchor = tc, tc.rate, (t, frames)

    def _locate(self, tc: Timecode, frames: float, t: float) -> None:
        self.timecode, self.rate = tc, tc.rate
        self._anchor = (t, frames)
        self.locates += 1
        self._jumped = True

    def running_at(self, t: float) -> bool:
        return t - self._last_quarter <= self.freewheel

    def seconds_at(self, t: float) -> float | None:
        """Where the timeline is at time t, in seconds from 00:00:00:00 (None before
        the first lock)."""
        if self._anchor is None or self.rate is None:
            return None
        since, frames = self._anchor
        fps = RATES[self.rate]
        if self.running_at(t):
            frames += max(0.0, t - since) * fps
        return frames / fps

    def take_jump(self) -> bool:
        """Whether the timeline located since the last call."""
        jumped, self._jumped = self._jumped, False
        return jumped


class CueFollower(Protocol):
    """What the timecode steers: the show's cue list."""

    cue_time: float | None

    def seek_cues(self, t: float) -> object: ...


class TimecodeFollower:
    """MTC from a MIDI port, steering the show's cue time once a frame.

    Raises MidiUnavailable where there is no MIDI system; a port that is not there yet
    opens when it appears (engine.midi.ports)."""

    def __init__(self, spec: TimecodeSpec, backend: Backend | None = None) -> None:
        self.spec = spec
        self.input = MidiInput(spec.port, backend)
        self.clock = MtcClock(spec.freewheel)
        self._arrived: deque[tuple[float, mido.Message]] = deque(maxlen=8192)
        self._hooked: object = None
        self._offsets: dict[str, float] = {}
        self._hook()

    def _hook(self) -> None:
        """Have the port call us on arrival (rtmidi's ports can); others are drained."""
        port = self.input.port
        if port is not None and port is not self._hooked and hasattr(port, "callback"):
            port.callback = self._on_message
            self._hooked = port

    def _on_message(self, msg: mido.Message) -> None:  # rtmidi's thread: stamp and queue
        self._arrived.append((time.perf_counter(), msg))

    def poll(self) -> None:
        drained = self.input.drain()  # also reopens a port that came back
        self._hook()
        now = time.perf_counter()
        while self._arrived:
            t, msg = self._arrived.popleft()
            self.clock.feed(msg, t)
        for msg in drained:
            self.clock.feed(msg, now)

    def offset(self, rate: str) -> float:
        if rate not in self._offsets:
            try:
                self._offsets[rate] = self.spec.offset_seconds(rate)
            except ValueError as exc:
                log.warning("timecode offset: %s; using 00:00:00:00", exc)
                self._offsets[rate] = 0.0
        return self._offsets[rate]

    def timecode_at(self, now: float) -> Timecode | None:
        """The timeline's frame at `now`, as HH:MM:SS:FF (for the overlay)."""
        seconds, rate = self.clock.seconds_at(now), self.clock.rate
        if seconds is None or rate is None:
            return None
        return Timecode.from_frame_number(math.floor(seconds * RATES[rate] + 1e-6), rate)

    def cue_time(self, now: float) -> float | None:
        """The show's cue time now: the timeline less the offset (None before a lock)."""
        seconds = self.clock.seconds_at(now)
        if seconds is None or self.clock.rate is None:
            return None
        return seconds - self.offset(self.clock.rate)

    def steer(self, show: CueFollower, now: float | None = None) -> None:
        """Once a frame, before the show steps: its cues fire at the timecode's time, and
        a locate seeks. Until the first lock no cue fires."""
        self.poll()
        t = self.cue_time(time.perf_counter() if now is None else now)
        if t is None:
            show.cue_time = -math.inf
            return
        if self.clock.take_jump():
            log.info("timecode %s: the cue list seeks to %.2f s", self.clock.timecode, t)
            show.seek_cues(t)
        show.cue_time = t

    def close(self) -> None:
        self.input.close()
