"""Tempo: MIDI clock in and out, tap tempo, Ableton Link, and the /tempo params.

:class:`ClockIn` follows an external MIDI clock (24 ticks per quarter note). It does
not average tick-to-tick differences (a 1 ms jitter on a 20 ms tick is a 5 %
tempo error); it fits a straight line, tick time against tick index, over the last
few beats. The slope is the tempo; the line itself gives the beat position at any
time, so frames between ticks get a smooth phase that stays locked to the sender.
A tempo change (more than about 3 %) is detected by comparing the slope of the newest
beat with the slope of the older ticks; the window is then cut at the best
breakpoint (where two lines fit best), so the new tempo takes over within a beat
instead of sliding out over four.

:class:`ClockOut` is the other direction: given a bpm and a frame window it returns
the clock messages due in that window, placed on a grid anchored in time (not
accumulated per frame), so 100 beats give exactly 2,400 clocks with no drift.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import warnings
from collections import deque
from typing import Any

import mido

from engine.params import ParamSpec

PPQN = 24  # MIDI clocks per quarter note
TICKS_PER_SIXTEENTH = PPQN // 4  # a song position pointer counts sixteenths

TEMPO_SOURCES = ("internal", "midi", "link", "tap", "audio")  # audio: the input's beat
TEMPO_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "/tempo/bpm", 120.0, 20.0, 300.0, unit="BPM", doc="tempo of the show (internal source)"
    ),
    ParamSpec("/tempo/beat", 0.0, 0.0, 1.0, unit="beat", doc="phase within the current beat"),
    ParamSpec(
        "/tempo/source",
        0.0,
        kind="enum",
        choices=TEMPO_SOURCES,
        doc="where the tempo comes from: internal, midi clock, Ableton Link, tap or audio in",
    ),
)


def _fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least-squares line t = a + b*k through (k, t); returns (a, b, residual std)."""
    n = len(points)
    kbar = sum(k for k, _ in points) / n
    tbar = sum(t for _, t in points) / n
    sxx = sum((k - kbar) ** 2 for k, _ in points)
    sxt = sum((k - kbar) * (t - tbar) for k, t in points)
    b = sxt / sxx
    a = tbar - b * kbar
    if n > 2:
        sse = sum((t - a - b * k) ** 2 for k, t in points)
        sigma = math.sqrt(sse / (n - 2))
    else:
        sigma = 0.0
    return a, b, sigma


def _sxx(points: list[tuple[int, float]]) -> float:
    kbar = sum(k for k, _ in points) / len(points)
    return sum((k - kbar) ** 2 for k, _ in points)


def _sse(points: list[tuple[int, float]]) -> float:
    _, _, sigma = _fit(points)
    return sigma * sigma * (len(points) - 2)


class ClockIn:
    """Follows an incoming MIDI clock; feed it (type, time) pairs from the MIDI queue.

    `window_beats` bounds the fit (older ticks are dropped), `recent_beats` is the
    newest stretch that is watched for a tempo change.
    """

    def __init__(
        self, window_beats: float = 4.0, recent_beats: float = 1.0, gap: float = 1.0
    ) -> None:
        self.window = max(4, round(window_beats * PPQN))
        self.recent = max(4, round(recent_beats * PPQN))
        self.gap = gap  # seconds without a clock after which the fit starts afresh
        self._ticks: deque[tuple[int, float]] = deque(maxlen=self.window)
        self._raw_next = 0  # index the next clock will get (counts every clock)
        self._offset = 0  # song tick = raw index + offset while playing
        self._song_next = 0  # song tick the next clock will carry
        self._start_tick = 0  # song tick at the last start/continue/songpos
        self._fit: tuple[float, float] | None = None
        self._last_t = -math.inf
        self.playing = False
        self.time = 0.0  # time of the last message fed

    # feeding
    def feed(self, kind: str | int, t: float, value: int = 0) -> None:
        """One message: 'clock' (0xF8), 'start' (0xFA), 'continue' (0xFB), 'stop' (0xFC)
        or 'songpos' (0xF2, `value` = position in sixteenths). Other types are ignored."""
        kind = _KINDS.get(kind, kind) if isinstance(kind, int) else kind
        self.time = max(self.time, t)
        if kind == "clock":
            self._clock(t)
        elif kind == "start":
            self._song_next = 0
            self._start_tick = 0
            self._offset = -self._raw_next
            self.playing = True
        elif kind == "continue":
            self._start_tick = self._song_next
            self._offset = self._song_next - self._raw_next
            self.playing = True
        elif kind == "stop":
            self.playing = False
        elif kind == "songpos":
            self._song_next = int(value) * TICKS_PER_SIXTEENTH
            self._start_tick = self._song_next
            self._offset = self._song_next - self._raw_next

    def feed_message(self, msg: mido.Message, t: float) -> None:
        """A mido message (its own time is ignored; `t` is when it arrived)."""
        self.feed(msg.type, t, getattr(msg, "pos", 0))

    def _clock(self, t: float) -> None:
        if t - self._last_t > self.gap:
            self._ticks.clear()  # the sender paused: the old line says nothing now
        self._last_t = t
        k = self._raw_next
        self._raw_next += 1
        if self.playing:
            self._song_next = k + self._offset + 1
        self._ticks.append((k, t))
        pts = list(self._ticks)
        if len(pts) < 2:
            self._fit = None
            return
        a, b, _ = _fit(pts)
        if len(pts) >= self.recent + PPQN // 2:
            # a tempo change: the newest stretch and the older part disagree on the slope
            older, recent = pts[: -self.recent], pts[-self.recent :]
            _, b_old, s_old = _fit(older)
            _, b_new, s_new = _fit(recent)
            noise = max(math.hypot(s_old, s_new) / math.sqrt(2), 2e-4)
            se = noise * math.sqrt(1 / _sxx(older) + 1 / _sxx(recent))
            if abs(b_new - b_old) > 6 * se + 0.005 * b:
                # keep what follows the best breakpoint (two lines fit best there)
                split = min(range(4, len(pts) - 3), key=lambda i: _sse(pts[:i]) + _sse(pts[i:]))
                self._ticks = deque(pts[split:], maxlen=self.window)
                a, b, _ = _fit(pts[split:])
        if b > 0:
            self._fit = (a, b)

    # reading
    @property
    def bpm(self) -> float | None:
        """Estimated tempo, None until two clocks have come in."""
        if self._fit is None:
            return None
        return 60.0 / (PPQN * self._fit[1])

    def position_at(self, t: float) -> float:
        """Song position in beats at time t (between clocks too)."""
        if not self.playing or self._fit is None:
            return self._song_next / PPQN if not self.playing else self._start_tick / PPQN
        a, b = self._fit
        song = (t - a) / b + self._offset
        # locked: never before the position we (re)started from, never more than one
        # clock ahead of the last clock received (if clocks stop, the beat waits)
        song = min(max(song, float(self._start_tick)), float(self._song_next))
        return song / PPQN

    def phase_at(self, t: float) -> float:
        """Phase within the beat, 0..1, at time t."""
        return self.position_at(t) % 1.0

    @property
    def position(self) -> float:
        return self.position_at(self.time)

    @property
    def beat(self) -> float:
        return self.phase_at(self.time)


_KINDS = {0xF8: "clock", 0xFA: "start", 0xFB: "continue", 0xFC: "stop", 0xF2: "songpos"}


class TapTempo:
    """Tap a key on the beat: the tempo is the median of the recent intervals.

    A pause longer than `reset_after` seconds starts a new count.
    """

    def __init__(self, keep: int = 8, reset_after: float = 2.0) -> None:
        self.keep = keep
        self.reset_after = reset_after
        self._taps: deque[float] = deque(maxlen=keep + 1)

    def tap(self, t: float) -> float | None:
        if self._taps and (t - self._taps[-1] > self.reset_after or t <= self._taps[-1]):
            self._taps.clear()
        self._taps.append(t)
        return self.bpm

    @property
    def bpm(self) -> float | None:
        if len(self._taps) < 2:
            return None
        taps = list(self._taps)
        return 60.0 / statistics.median(b - a for a, b in itertools.pairwise(taps))

    def phase_at(self, t: float) -> float | None:
        """Phase 0..1 with beat 0 on the last tap; None without a tempo."""
        bpm = self.bpm
        if bpm is None:
            return None
        return ((t - self._taps[-1]) * bpm / 60.0) % 1.0

    def reset(self) -> None:
        self._taps.clear()


class ClockOut:
    """Sends MIDI clock: call :meth:`due` once per frame with the frame's window.

    Clocks sit on a grid anchored at a time and tick index; a tempo change re-anchors
    at the next clock, so nothing accumulates from frame to frame. Clocks are sent
    while stopped too (what most hardware expects); start/stop/continue are queued and
    come out in the window that contains their time.
    """

    def __init__(self, send_when_stopped: bool = True) -> None:
        self.send_when_stopped = send_when_stopped
        self.playing = False
        self._bpm: float | None = None
        self._anchor_t = 0.0
        self._anchor_n = 0
        self._next_n = 0
        self._pending: list[tuple[float, str]] = []

    def _tick_time(self, n: int) -> float:
        assert self._bpm is not None
        return self._anchor_t + (n - self._anchor_n) * 60.0 / (PPQN * self._bpm)

    def start(self, t: float) -> None:
        """Start at time t: 'start' then a clock at t, which is beat 0 for the receiver."""
        self._pending.append((t, "start"))
        self.playing = True
        if self._bpm is not None:
            self._anchor_t, self._anchor_n, self._next_n = t, 0, 0
        else:
            self._anchor_t = t

    def stop(self, t: float) -> None:
        self._pending.append((t, "stop"))
        self.playing = False

    def resume(self, t: float) -> None:
        """MIDI 'continue' at time t."""
        self._pending.append((t, "continue"))
        self.playing = True

    def due(self, bpm: float, t0: float, t1: float) -> list[tuple[float, mido.Message]]:
        """The messages due in [t0, t1), time-ordered, as (time, message)."""
        if bpm <= 0:
            raise ValueError(f"bpm must be positive, got {bpm}")
        if self._bpm is None:
            self._bpm = bpm
            self._anchor_t = max(self._anchor_t, t0)
            self._anchor_n = self._next_n
        elif bpm != self._bpm:
            if self._next_n > self._anchor_n:  # the next clock follows the last at the new rate
                self._anchor_t = self._tick_time(self._next_n - 1) + 60.0 / (PPQN * bpm)
                self._anchor_n = self._next_n
            self._bpm = bpm
        out: list[tuple[float, mido.Message]] = []
        keep = []
        for t, kind in self._pending:
            if t < t1:
                out.append((t, mido.Message(kind)))
            else:
                keep.append((t, kind))
        self._pending = keep
        while (tn := self._tick_time(self._next_n)) < t1:
            if tn >= t0 and (self.playing or self.send_when_stopped):
                out.append((tn, mido.Message("clock")))
            self._next_n += 1
        out.sort(key=lambda e: (e[0], e[1].type == "clock"))  # start before its first clock
        return out


class Link:
    """Ableton Link through `aalink` (pip package aalink 0.2.3, GPL-3.0-or-later).

    Link works without peers (then it is just a steady clock); with peers on the LAN
    it shares tempo and beat. aalink wants an asyncio loop for its callbacks; the
    getters used here do not need that loop to run, so a private one is made.
    """

    def __init__(self, bpm: float = 120.0, quantum: float = 1.0) -> None:
        try:
            import aalink  # type: ignore[import-not-found,unused-ignore]
        except ImportError as e:
            raise RuntimeError(
                "Ableton Link needs the 'aalink' package (pip install aalink)"
            ) from e
        self._loop = asyncio.new_event_loop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the loop argument
            self._link: Any = aalink.Link(float(bpm), self._loop)
        self._link.quantum = float(quantum)
        self._link.enabled = True

    @property
    def bpm(self) -> float:
        return float(self._link.tempo)

    @bpm.setter
    def bpm(self, value: float) -> None:
        self._link.tempo = float(value)

    @property
    def beat(self) -> float:
        """Beats on the shared timeline, now."""
        return float(self._link.beat)

    @property
    def phase(self) -> float:
        """Phase within the beat, 0..1, now."""
        return float(self._link.beat) % 1.0

    @property
    def peers(self) -> int:
        return int(self._link.num_peers)

    def close(self) -> None:
        self._link.enabled = False
        self._loop.close()
