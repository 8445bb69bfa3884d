"""The show's tempo: the one writer of `/tempo/bpm` and `/tempo/beat`.

`/tempo/source` names who drives them, and only that source is asked:

- internal: the show's own beat, advanced by each frame's dt at `/tempo/bpm`;
- tap: the taps' tempo and phase (`/tempo/tap`);
- link: an Ableton Link session (aalink, an optional extra);
- midi: the controller's MIDI clock, fitted by `engine.midi.clock.ClockIn`;
- audio: the beat tracked from the audio input (`engine.audio.analysis`).

The sources on the wall clock are followed live: taps and Link by the live runner
(`follow`), a MIDI clock by the controller once its messages are drained
(`follow_clock`). The show's own clock drives the others (`advance`: internal, audio),
so they run the same offline.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.midi.clock import TEMPO_SOURCES, ClockIn, Link, TapTempo
from engine.params import ParamSpace

if TYPE_CHECKING:
    from engine.audio.analysis import Heard

log = logging.getLogger(__name__)


class Tempo:
    def __init__(self, params: ParamSpace) -> None:
        self.params = params
        self.taps = TapTempo()
        self.link: Link | None = None
        self.link_error = ""

    @property
    def source(self) -> str:
        return TEMPO_SOURCES[int(self.params.get("/tempo/source"))]

    def _write(self, bpm: float, beat: float | None) -> None:
        self.params.set("/tempo/bpm", bpm, jump=True)
        if beat is not None:
            self.params.set("/tempo/beat", beat, jump=True)

    def tap(self, now: float) -> None:
        """A tap (wall-clock seconds); tapping makes the taps the source."""
        self.taps.tap(now)
        self.params.set("/tempo/source", "tap")

    def follow(self, now: float) -> None:
        """The wall-clock sources the live runner keeps: taps and Link."""
        source = self.source
        if source == "tap" and self.taps.bpm is not None:
            self._write(self.taps.bpm, self.taps.phase_at(now))
        elif source == "link":
            if self.link is None and not self.link_error:
                try:
                    self.link = Link(self.params.get("/tempo/bpm"))
                except RuntimeError as exc:  # aalink is an optional extra
                    self.link_error = str(exc)
                    log.warning("Ableton Link: %s", exc)
            if self.link is not None:
                self._write(self.link.bpm, self.link.phase)

    def follow_clock(self, clock: ClockIn, now: float) -> None:
        """A controller's MIDI clock, once this frame's clock messages are in."""
        if self.source == "midi" and clock.bpm is not None:
            self._write(clock.bpm, clock.phase_at(now))

    def advance(self, dt: float, heard: Heard | None = None) -> None:
        """The show's-clock sources, every frame: the internal beat, the music's beat."""
        source = self.source
        if source == "internal":
            get = self.params.get  # the bpm is left alone: a cue may be fading it
            beat = (get("/tempo/beat") + get("/tempo/bpm") / 60.0 * dt) % 1.0
            self.params.set("/tempo/beat", beat, jump=True)
        elif source == "audio" and heard is not None and heard.bpm > 0:
            self._write(heard.bpm, heard.phase)
