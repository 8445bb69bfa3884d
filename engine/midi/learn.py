"""MIDI learn: arm a param, move a control, get a binding; save it into a controller map.

What the learned binding is (kept simple on purpose):

- a CC: ``cc`` absolute; if the very next message within ``window`` seconds is its
  LSB partner (CC number + 32, same channel) the binding is upgraded to ``cc14`` and
  :meth:`Learner.observe` returns the upgraded binding (it replaces the first one);
- pitch bend: ``pitchbend``; a program change: ``program`` (the armed param should
  be a command, e.g. ``/cue/go``);
- a note: ``trigger`` for a command, ``toggle`` for a bool param, else ``momentary``.

NRPN and relative encoders are not guessed; write those by hand.

:meth:`Learner.save` writes the learned bindings into a TOML file: a binding for a
control the file does not bind yet is appended as a ``[[bind]]`` block (the rest of
the file, comments included, is left as it is); one that replaces an existing
binding for the same control rewrites the file (comments are then lost).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import mido

from engine.midi.binding_files import parse_bindings
from engine.midi.bindings import Binding, split_command
from engine.params import ParamSpace


class Learner:
    """Arm, observe, save."""

    def __init__(self, params: ParamSpace | None = None, window: float = 0.05) -> None:
        self.params = params
        self.window = window
        self.armed: str | None = None
        self.learned: list[Binding] = []
        self._partner: tuple[int, int, float | None] | None = None  # (channel, lsb cc, t)

    def arm(self, param: str) -> None:
        """The next control moved binds to `param` (a path, pattern or command)."""
        self.armed = param
        self._partner = None

    def observe(self, msg: mido.Message, t: float | None = None) -> Binding | None:
        """Feed every incoming message; returns a binding when one is learned (or upgraded)."""
        partner, self._partner = self._partner, None
        if msg.type == "control_change" and partner is not None:
            ch, lsb, t0 = partner
            close = t is None or t0 is None or t - t0 <= self.window
            if msg.channel == ch and msg.control == lsb and close:
                old = self.learned.pop()
                return self._keep(Binding("cc14", old.param, ch, lsb - 32))
        param = self.armed
        if param is None:
            return None
        kind = msg.type
        if kind == "control_change":
            b = Binding("cc", param, msg.channel, msg.control)
            if msg.control < 32:
                self._partner = (msg.channel, msg.control + 32, t)
        elif kind == "pitchwheel":
            b = Binding("pitchbend", param, msg.channel)
        elif kind == "program_change":
            b = Binding("program", param, msg.channel, msg.program)
        elif kind == "note_on" and msg.velocity > 0:
            if split_command(param):
                mode = "trigger"
            elif self.params is not None and any(
                self.params.spec(p).kind == "bool" for p in self.params.match(param)
            ):
                mode = "toggle"
            else:
                mode = "momentary"
            b = Binding("note", param, msg.channel, msg.note, mode=mode)
        else:
            return None
        self.armed = None
        return self._keep(b)

    def _keep(self, b: Binding) -> Binding:
        self.learned = [old for old in self.learned if old.key != b.key]
        self.learned.append(b)
        return b

    def save(self, path: Path | str, name: str = "", port: str = "") -> None:
        """Write the learned bindings into `path` (created if missing)."""
        path = Path(path)
        if path.exists():
            text = path.read_text(encoding="utf-8")
            data: dict[str, Any] = tomllib.loads(text)
        else:
            text, data = "", {}
            data["name"] = name or path.stem
            if port:
                data["port"] = port
        existing = parse_bindings(data, path).bindings  # checks the file before touching it
        keys = {b.key for b in self.learned}
        if any(b.key in keys for b in existing):
            kept = [b for b in existing if b.key not in keys]
            head = {k: v for k, v in data.items() if k != "bind"}
            text = emit_map(head, [*kept, *self.learned])
        else:
            if not text:
                text = emit_map({k: v for k, v in data.items() if k != "bind"}, [])
            text = text.rstrip("\n") + "\n" + "".join(emit_binding(b) for b in self.learned)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# a small TOML emitter, enough for controller maps
def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML here")


def emit_binding(b: Binding) -> str:
    """One ``[[bind]]`` block: the control, the param and every field not at its default."""
    default = Binding(b.control, b.param)
    lines = ["", "[[bind]]", f"control = {_value(b.control)}"]
    lines.append(f"channel = {b.channel}")
    if b.control != "pitchbend":
        lines.append(f"number = {b.number}")
    lines.append(f"param = {_value(b.param)}")
    if b.mode:
        lines.append(f"mode = {_value(b.mode)}")
    for key in ("range", "invert", "takeover", "step", "feedback", "on", "off", "presets"):
        v = getattr(b, key)
        if v != getattr(default, key):
            lines.append(f"{key} = {_value(list(v) if isinstance(v, tuple) else v)}")
    return "\n".join(lines) + "\n"


def emit_map(head: dict[str, Any], bindings: list[Binding]) -> str:
    """A whole controller map: top-level scalar keys, then the bindings."""
    out = []
    for k, v in head.items():
        if isinstance(v, dict):
            raise TypeError(f"cannot rewrite the table [{k}] here")
        out.append(f"{k} = {_value(v)}")
    return "\n".join(out) + "\n" + "".join(emit_binding(b) for b in bindings)
