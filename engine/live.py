"""Playing live: the show on the wall clock, with files that reload mid-show.

Each frame: apply what was edited (a shader warmed off the show's path, a patch, the
mapping script, the set itself), apply queued commands (REPL, and later OSC and
MIDI), step the show, show or record the frame, then wait for the next frame's
slot. A frame that finishes after its slot is late; slots that pass entirely
while a frame renders are dropped. Nothing that goes wrong in a file stops the
show: the last good version keeps running and the error is kept for the overlay
and the log, with its file and line.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from engine import commands
from engine.clock import Clock, RealtimeClock
from engine.commands import COMMAND_ERRORS
from engine.control_maps import ControlMap
from engine.events import Event, EventQueue
from engine.live_edits import LiveEdits, LiveError, SessionLog
from engine.midi.controller import MidiController
from engine.midi.timecode import TimecodeFollower
from engine.params import ParamSpec
from engine.reload import Warmer, Watcher
from engine.show import Frame, Show
from engine.sources.profiles import CLAMPED
from engine.visuals.overlay import Overlay, OverlayState
from engine.visuals.shaders import find_layer

log = logging.getLogger("oneiric.live")
LIVE_PARAMS = (ParamSpec("/live/crossfade", 1.0, 0.0, 10.0, unit="s", doc="shader swap time"),)


class FrameSink(Protocol):
    def write(self, image: np.ndarray) -> None: ...


@dataclass
class LiveStats:
    frames: int = 0
    late: int = 0  # frames that finished after their slot
    dropped: int = 0  # slots that passed while a frame was still rendering
    frame_ms: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    wall: float = 0.0  # seconds spent in run()

    @property
    def fps(self) -> float:
        if not self.frame_ms:
            return 0.0
        return 1000.0 / max(float(np.mean(self.frame_ms)), 1e-6)


class Live(LiveEdits):
    def __init__(
        self,
        show: Show,
        *,
        clock: Clock | None = None,
        watch: bool = True,
        session: SessionLog | None = None,
        sink: FrameSink | None = None,
        audio_sink: Callable[[np.ndarray], None] | None = None,
        on_frame: Callable[[Frame], None] | None = None,
        overlay: bool = False,
    ) -> None:
        self.show = show
        for spec in LIVE_PARAMS:
            show.params.register(spec)
        self.clock = clock or RealtimeClock(show.fps)
        if show.inputs is not None:  # arrivals stamped in show seconds, as commands are
            show.inputs.clock = self.clock.now
        self.commands = EventQueue(maxlen=4096)
        self.ignored: Counter[str] = Counter()  # commands that named no param, by address
        self.controls: list[ControlMap] = []  # OSC addresses mapped onto params
        self.midi: MidiController | None = None  # a controller, where there is MIDI
        self.tempo = show.tempo  # taps, Link and MIDI clock write through it
        self.stats = LiveStats()
        self.errors: deque[LiveError] = deque(maxlen=32)
        self.session = session
        self.sink = sink
        self.sinks: list[FrameSink] = []  # video outputs (engine.visuals.outputs), beside sink
        self.timecode: TimecodeFollower | None = None  # MTC steering the cue list
        self.audio_sink = audio_sink
        self.on_frame = on_frame  # a window presents here
        self.show.overlay = Overlay(show.ctx, show.size)  # made now: its first draw compiles
        self.overlay_visible = overlay
        self.notices: list[str] = [show.audio_notice] if show.audio_notice else []
        if show.listen is not None and show.listen.notice:
            self.notices.append(show.listen.notice)
        folders = show.folders
        self.watched = [folders.shaders, folders.patches, folders.mappings]
        self.watched.append(show.spec.path.resolve().parent)
        self.watcher = Watcher(self.watched) if watch else None
        self.warmer = Warmer(show.layer_size)
        self.warmer.warm_merge(show.size, exact=show.layer_size == show.size)
        self.frame_index = 0
        self.last_frame: Frame | None = None
        self.swaps: list[tuple[int, str]] = []  # (frame, shader) for each shader swapped in
        if session is not None:
            self._record_starting_sources(session)
            self._record_inputs(session)
        self._mapping_error: object = None
        self._edited_effects: dict[Path, None] = {}  # effect files to compile next frame

    def _record_starting_sources(self, session: SessionLog) -> None:
        """The text of every file the show runs on, as it starts: a replay rebuilds the
        show from these, whatever happens to the files later."""
        show, folders = self.show, self.show.folders
        files = [("shader", find_layer(name, folders.shaders)) for name in show.shaders]
        patches = {d.patch for d in show.dreamers} | {"master"}
        files += [("patch", folders.patches / f"{name}.py") for name in sorted(patches)]
        if show.mapping is not None:
            files.append(("mapping", show.mapping.path))
        files += [("effect", p) for c in show.fx.chains() for p in sorted(c.paths)]
        for kind, path in files:
            session.source(0, kind, str(path), path.read_text())

    def _record_inputs(self, session: SessionLog) -> None:
        """Dreamers' inputs, whatever their source: every OSC message routed to them and
        every read of a live stream, stamped with the frame that took it in."""
        show = self.show
        inputs = show.inputs
        session.inputs(inputs.group_endpoints() if inputs else [], show.readers())
        if inputs is not None:
            inputs.tap = lambda event: session.input(self.frame_index, event)
        show.tap_reads(lambda i, n, got: session.reading(self.frame_index, i, n, got))

    # what changed
    # commands
    def command(self, address: str, *args: object) -> None:
        """Queue a command from any thread: a param path with a value (and fade), or one
        of engine.commands (/cue/go [name], /scene/load NAME, ...)."""
        self.commands.push(Event(self.clock.now(), "command", address, tuple(args)))

    def _run_command(self, event: Event) -> None:
        self._log_reads(event)
        try:
            commands.run(self, event)
        except COMMAND_ERRORS as exc:
            log.warning("%s from MIDI ignored: %s", event.address, exc)

    def _log_reads(self, event: Event) -> None:
        """A command that reads a file (a scene): its text goes into the session log
        first, so the replay applies the scene as it was, whatever the file is now."""
        path = commands.reads(self, event) if self.session is not None else None
        if path is not None and path.is_file() and self.session is not None:
            self.session.source(self.frame_index, "scene", str(path), path.read_text())

    def _apply(self, event: Event) -> None:
        for controls in self.controls:
            if controls.knows(event.address):
                for command in controls.apply(event, self.show.params):
                    if self.session is not None:  # the replay needs only the outcome
                        self.session.event(self.frame_index, command)
                return
        self._log_reads(event)
        try:
            commands.run(self, event)
        except COMMAND_ERRORS as exc:
            self.ignored[event.address] += 1
            if (
                self.ignored[event.address] in (1, 10, 100, 1000)
                or not self.ignored[event.address] % 10000
            ):
                log.warning(
                    "%s %s from %s ignored (%d so far): %s",
                    event.address,
                    event.value,
                    event.source,
                    self.ignored[event.address],
                    exc,
                )
            return
        if self.session is not None:
            self.session.event(self.frame_index, event)

    # the loop
    def step(self) -> Frame:
        """One frame: reloads, commands, the show, the outputs. Everything applied
        before the show steps is stamped with this frame's number in the session log,
        so a replay applies it at the same point."""
        tick = self.clock.tick()
        self.frame_index = tick.frame
        if self.session is not None:
            self.session.frame(tick)
        t0 = time.perf_counter()
        if self.watcher is not None:
            for path in self.watcher.drain():
                self.file_changed(path)
        self._swap_warmed()
        self._reload_effects()
        for event in self.commands.drain():
            self._apply(event)
        self.tempo.follow(time.perf_counter())
        if self.midi is not None:
            for event in self.midi.step(self.show, tick.time, self._run_command):
                if self.session is not None:
                    self.session.event(self.frame_index, event)
        if self.timecode is not None:
            self.timecode.steer(self.show)
        self.show.overlay_state = self._overlay_state() if self.overlay_visible else None
        frame = self.show.step(tick)
        mapping = self.show.mapping
        err = mapping.error if mapping is not None else None
        if err is not None and err is not self._mapping_error:  # report each failure once
            self._error("mapping", err.path, err.line, err.message)
        self._mapping_error = err
        if self.sink is not None:
            self.sink.write(frame.image)
        for sink in self.sinks:
            sink.write(frame.image)
        if self.audio_sink is not None and frame.audio is not None:
            self.audio_sink(frame.audio)
        if self.on_frame is not None:
            self.on_frame(frame)
        self.stats.frame_ms.append((time.perf_counter() - t0) * 1000)
        self.stats.frames += 1
        self.last_frame = frame
        return frame

    def run(
        self, duration: float | None = None, *, stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Play until `duration` seconds of show have passed or `stop()` says so, pacing
        frames to the show's fps."""
        period = 1.0 / self.show.fps
        start = time.perf_counter()
        slot = 1
        while not stop():
            frame = self.step()
            if duration is not None and frame.time >= duration:
                break
            deadline = start + slot * period
            now = time.perf_counter()
            self.stats.wall = now - start
            if now <= deadline:
                time.sleep(deadline - now)
                slot += 1
            else:
                self.stats.late += 1
                missed = int((now - deadline) / period)
                self.stats.dropped += missed
                slot += 1 + missed

    def _overlay_state(self) -> OverlayState:
        s = self.stats
        show = self.show
        timecode = self.timecode.timecode_at(time.perf_counter()) if self.timecode else None
        tc = [f"tc {timecode}"] if timecode is not None else []
        get = show.params.get
        return OverlayState(
            fps=s.frames / s.wall if s.wall > 0 else s.fps,
            frame_ms=float(np.mean(s.frame_ms)) if s.frame_ms else 0.0,
            late=s.late,
            dropped=s.dropped,
            dreamers=[
                (d.id, get(f"{d.path}/quality"), get(f"{d.path}/share")) for d in show.dreamers
            ],
            errors=[str(e) for e in self.errors],
            status=" | ".join([f"{show.spec.title}  t={show.now:.1f}s", *tc, *self.notices]),
            inputs=self.input_report(),
        )

    def input_report(self) -> list[str]:
        """The OSC inputs: counters, then each sender and the dreamer it took."""
        inputs = self.show.inputs
        if inputs is None:
            return []
        counts = inputs.counts()
        kept = ("fed", "translated", CLAMPED)  # clamped values still went through
        dropped = sum(v for k, v in counts.items() if k not in kept)
        ports = ", ".join(f"{e.host}:{e.port}" for e in inputs.endpoints)
        lines = [
            f"osc {ports}: {counts.get('fed', 0)} in, {counts.get('translated', 0)} used,"
            f" {dropped} dropped"
        ]
        lines += [str(s) for s in inputs.senders()]
        lines += [f"{key}: no free dreamer ({n})" for key, n in inputs.unrouted.items()]
        return lines

    def summary(self) -> str:
        s = self.stats
        shown = s.frames / s.wall if s.wall > 0 else 0.0
        return (
            f"played {s.frames} frames at {shown:.1f} fps (target {self.show.fps:g}; frames"
            f" take {np.mean(s.frame_ms) if s.frame_ms else 0:.1f} ms), {s.late} late,"
            f" {s.dropped} dropped, {len(self.errors)} errors"
        )

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
        self.warmer.close()
