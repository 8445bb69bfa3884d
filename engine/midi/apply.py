"""MIDI into the show: controller bindings applied to a show's params, from a port
live or from a MIDI file in time for rehearsals and offline renders."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import mido

from engine.commands import COMMAND_PATHS
from engine.events import Event
from engine.midi.binding_files import load_bindings
from engine.midi.bindings import BindingMap
from engine.midi.files import MidiFilePlayer


def apply_midi(
    bindings: BindingMap,
    msg: mido.Message,
    show: object,
    t: float,
    run: Callable[[Event], None],
) -> list[Event]:
    """Apply one message through the bindings; commands (GO, presets) go to `run`.
    Returns every resulting event (what a session log records)."""
    events = bindings.handle(msg, show.params, t)  # type: ignore[attr-defined]
    for event in events:
        if event.address in COMMAND_PATHS:
            run(event)
    return events


def midi_file_feeder(
    show: object,
    midi: Path,
    controller: str | Path,
    fps: float,
    run: Callable[[Event], None],
) -> Callable[[int], None]:
    """A `before(frame)` hook for render_show: the file's messages up to each frame's
    time (inclusive) go through the controller map before that frame is drawn."""
    player = MidiFilePlayer(midi)
    bindings = load_bindings(controller)
    done = -math.inf

    def before(frame: int) -> None:
        nonlocal done
        until = frame / fps + 1e-9
        for t, msg in player.events_between(done, until):
            apply_midi(bindings, msg, show, t, run)
        done = until

    return before
