"""Commands: what a show can be told to do besides moving a param, in one table.

A command is addressed like a param (`/cue/go`, `/scene/load calm`) and arrives the
same way (OSC, MIDI, the console, cues in a session log); `run` looks its handler up
here and sends anything else to the param space. There is no other list of commands:
MIDI bindings, the console, OSCQuery and `performance.py params` read this one.

Names a client sends (a scene) are plain names inside the rig's own folders, never
paths (`/scene/load ../../etc/passwd` is refused).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.events import Event
from engine.folders import plain_name
from engine.keyboard import key_code
from engine.params import ParamError
from engine.scenes import apply_scene, load_scene

if TYPE_CHECKING:
    from engine.show import Show

log = logging.getLogger("oneiric.commands")


class Target(Protocol):
    """What commands act on: the show, and in a live rig its MIDI and tempo sources."""

    @property
    def show(self) -> Show: ...
    @property
    def midi(self) -> Any: ...
    @property
    def tempo(self) -> Any: ...


@dataclass(frozen=True)
class Offline:
    """The target of commands in an offline render: a show, no live controls."""

    show: Show
    midi: Any = None
    tempo: Any = None


@dataclass(frozen=True, slots=True)
class Command:
    path: str
    args: tuple[str, ...]  # what it takes (names; () for an impulse: a trigger, no value)
    doc: str
    run: Callable[[Target, Sequence[object]], None]
    # the file it reads, if any: its text goes into a session log, so a replay matches
    reads: Callable[[Target, Sequence[object]], Path] | None = None
    alias_of: str = ""

    @property
    def impulse(self) -> bool:
        return not self.args


def _name(args: Sequence[object], what: str) -> str:
    if not args:
        raise ValueError(f"which {what}? (a name)")
    return plain_name(str(args[0]), what)


def _scene_path(target: Target, args: Sequence[object]) -> Path:
    return target.show.folders.scenes / f"{_name(args, 'scene')}.toml"


def _cue_go(target: Target, args: Sequence[object]) -> None:
    target.show.go(str(args[0]) if args else None)


def _scene_load(target: Target, args: Sequence[object]) -> None:
    name = _name(args, "scene")
    apply_scene(load_scene(name, target.show.folders.scenes), target.show.params)


def _midi_learn(target: Target, args: Sequence[object]) -> None:
    if target.midi is None:
        raise KeyError("/midi/learn needs a MIDI controller (live --midi)")
    path = str(args[0]) if args else ""
    target.show.params.spec(path)  # a param that exists, or ParamError
    target.midi.arm_learn(path)


def _tempo_tap(target: Target, args: Sequence[object]) -> None:
    if target.tempo is None:
        raise KeyError("/tempo/tap taps a live show's tempo")
    target.tempo.tap(time.perf_counter())


def _key(args: Sequence[object]) -> int:
    if not args:
        raise ValueError("which key? (a code or a name: 65, A, space)")
    return key_code(args[0])


def _key_down(target: Target, args: Sequence[object]) -> None:
    target.show.keyboard.down(_key(args))


def _key_up(target: Target, args: Sequence[object]) -> None:
    target.show.keyboard.up(_key(args))


_warned: set[str] = set()


def _alias(new: str) -> Callable[[Target, Sequence[object]], None]:
    def run(target: Target, args: Sequence[object]) -> None:
        if new not in _warned:
            _warned.add(new)
            log.warning("an old name: %s is %s now (both work)", "/preset/load", new)
        COMMANDS[new].run(target, args)

    return run


COMMANDS: dict[str, Command] = {
    c.path: c
    for c in (
        Command("/cue/go", (), "fire the next cue now, or the one named", _cue_go),
        Command("/scene/load", ("scene",), "apply a scene from presets/scenes", _scene_load,
                _scene_path),
        Command("/preset/load", ("scene",), "the old name of /scene/load", _alias("/scene/load"),
                _scene_path, alias_of="/scene/load"),
        Command("/midi/learn", ("param",), "bind the next MIDI control moved to a param",
                _midi_learn),
        Command("/tempo/tap", (), "tap the tempo (the tempo source becomes tap)", _tempo_tap),
        Command("/key/down", ("key",), "a key goes down (Shadertoy's keyboard channel)",
                _key_down),
        Command("/key/up", ("key",), "a key comes up (Shadertoy's keyboard channel)", _key_up),
    )
}  # fmt: skip
# what arrives with no value and still means something (the rest set a param)
COMMAND_PATHS = tuple(COMMANDS)
# what a command that cannot apply raises: it is ignored (and counted), never fatal
COMMAND_ERRORS = (ParamError, ValueError, TypeError, KeyError, IndexError)


def run(target: Target, event: Event) -> None:
    """A command's effect, or a param path with a value (and a fade). Raises on anything
    it cannot apply (one of COMMAND_ERRORS, or SetError for a broken scene file)."""
    command = COMMANDS.get(event.address)
    if command is not None:  # an OSCQuery client sends an impulse as N (nil): no value
        command.run(target, tuple(a for a in event.value if a is not None))
        return
    if not event.value:
        raise ValueError(f"{event.address}: no value given")
    value, *rest = event.value
    fade = float(rest[0]) if rest else 0.0  # type: ignore[arg-type]
    target.show.params.set(event.address, value, fade)


def reads(target: Target, event: Event) -> Path | None:
    """The file a command will read (a scene), for the session log; None if none."""
    command = COMMANDS.get(event.address)
    if command is None or command.reads is None:
        return None
    try:
        return command.reads(target, event.value)
    except ValueError:
        return None
