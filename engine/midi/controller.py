"""A controller in the live rig: its messages through its map, its LEDs kept in step,
MIDI clock as a tempo source, and learn.

Each frame the live loop calls :meth:`MidiController.step`: pending input is drained
without blocking; clock messages feed its ClockIn, which the show's tempo follows when
`/tempo/source` is midi; with learn armed, the next control
moved is bound to the armed param and saved into the controller's map; everything
else goes through the bindings. Then whatever the frame changed (a binding, a
preset, OSC, a cue) is sent back to the controller as LED and value feedback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import mido

from engine.events import Event
from engine.midi.apply import apply_midi
from engine.midi.binding_files import controller_path, load_bindings
from engine.midi.bindings import BindingMap
from engine.midi.clock import ClockIn, ClockOut
from engine.midi.feedback import feedback_changes, feedback_messages, load_map
from engine.midi.learn import Learner
from engine.midi.ports import (
    Backend,
    InPort,
    MidiInput,
    MidiUnavailable,
    OutPort,
    RtMidiBackend,
    open_output,
)
from engine.params import Value

log = logging.getLogger("oneiric.midi")
CLOCK_TYPES = ("clock", "start", "stop", "continue", "songpos")


class VirtualInput:
    """A virtual port's input: it is ours, so it never goes away (no rescans)."""

    def __init__(self, port: InPort) -> None:
        self.port = port

    def drain(self) -> list[mido.Message]:
        return list(self.port.iter_pending())

    def close(self) -> None:
        self.port.close()


class MidiController:
    def __init__(
        self,
        port: str,
        controller: str | Path,
        backend: Backend | None = None,
        *,
        clock_out: bool = False,
        virtual: bool = False,
    ) -> None:
        """Raises MidiUnavailable (one clear line) where there is no MIDI system.

        `virtual`: instead of opening the controller's port, create an in/out pair
        named `port` that other software (a DAW, a sequencer, a bridge) connects to."""
        self.path = controller_path(controller)
        self.bindings: BindingMap = load_bindings(self.path)
        self.map = load_map(self.path)
        self.input: MidiInput | VirtualInput
        self.output: OutPort | None = None
        if virtual:
            opener = getattr(backend or RtMidiBackend(), "open_virtual", None)
            if opener is None:
                raise MidiUnavailable("this MIDI system has no virtual ports")
            inp, self.output = opener(port)
            self.input = VirtualInput(inp)
            log.info("virtual MIDI port %r open", port)
        else:
            self.input = MidiInput(port, backend)
            try:
                self.output = open_output(port, backend)
            except (MidiUnavailable, LookupError, OSError) as exc:
                log.info("no feedback to %r: %s", port, exc)
        self.clock = ClockIn()
        self.clock_out = ClockOut() if clock_out else None  # MIDI clock to the controller
        self._last = time.perf_counter()
        self.learner = Learner()
        self.learned: list[str] = []
        self._sent: dict[str, Value] | None = None

    def arm_learn(self, param: str) -> None:
        self.learner.arm(param)

    def step(self, show: object, t: float, run: Callable[[Event], None]) -> list[Event]:
        params = show.params  # type: ignore[attr-defined]
        events: list[Event] = []
        now = time.perf_counter()
        for msg in self.input.drain():
            if msg.type in CLOCK_TYPES:
                self.clock.feed_message(msg, now)
                continue
            if self.learner.armed:
                binding = self.learner.observe(msg, now)
                if binding is not None:
                    self.learner.save(self.path)
                    self.bindings = load_bindings(self.path)
                    self.map = load_map(self.path)
                    self.learned.append(binding.param)
                    log.info("learned %s -> %s", msg, binding.param)
                continue
            events += apply_midi(self.bindings, msg, show, t, run)
        show.tempo.follow_clock(self.clock, now)  # type: ignore[attr-defined]
        self._feedback(params)
        if self.clock_out is not None and self.output is not None:
            for _, tick in self.clock_out.due(params.get("/tempo/bpm"), self._last, now):
                self.output.send(tick)
        self._last = now
        return events

    def _feedback(self, params: object) -> None:
        if self.output is None:
            return
        snapshot = params.snapshot()  # type: ignore[attr-defined]
        if self._sent is None:
            messages = feedback_messages(self.map, params)  # type: ignore[arg-type]
        else:
            messages = feedback_changes(self.map, self._sent, snapshot, params=params)  # type: ignore[arg-type]
        for msg in messages:
            self.output.send(msg)
        self._sent = snapshot

    def close(self) -> None:
        self.input.close()
        if self.output is not None:
            self.output.close()
