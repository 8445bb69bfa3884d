"""Controller maps: MIDI controls onto params and commands (presets/controllers/*.toml).

A binding names one control (``control``, ``channel``, ``number``) and what it moves
(``param``: a path or pattern, or a command: ``"/cue/go"``, ``"/scene/load calm"``).
Everything reaches the param space through :meth:`ParamSpace.set_unit`, so a fader
follows the param's curve. A control position ``x`` (0..1) lands at
``lo + (hi - lo) * x`` of the param's travel (``range = [lo, hi]``), ``1 - x`` first
when ``invert``.

What each control means:

- ``cc``: 7-bit, ``x = value / 127``.
- ``cc14``: ``number`` is the MSB controller, ``number + 32`` the LSB;
  ``x = (msb << 7 | lsb) / 16383``. As in the MIDI spec, an MSB resets the LSB to 0:
  an MSB alone applies ``msb << 7`` at once (so a 7-bit sender still works) and the
  LSB that follows refines it. An LSB before any MSB is ignored.
- ``nrpn``: CC 99/98 select the parameter (MSB/LSB, ``number`` = msb << 7 | lsb),
  CC 6/38 are data entry MSB/LSB (14-bit, read like cc14), CC 96/97 step the selected
  parameter up/down by ``step`` (their data byte is ignored). CC 101/100 (an RPN)
  deselect it. With a relative mode, the data entry MSB is read as an encoder tick.
- ``pitchbend``: -8192 -> 0, 0 (the centre detent) -> exactly 0.5, 8191 -> 1
  (two linear halves, so the wheel's rest position is the middle of the range).
- relative modes (encoders), ``step`` of travel per tick, clamped to the range:
  ``relative-twos`` 1..63 up, 64..127 down (value - 128); ``relative-offset``
  value - 64; ``relative-signbit`` bit 6 set is down, the low 6 bits the size.
  Takeover does not apply: an encoder always moves from the param's current value.
- ``note``: ``trigger`` sets the param to the top of its range on each press
  (velocity > 0; a bang, releases do nothing; an ISF event input resets itself);
  ``toggle`` flips the param between the ends of its range on each press (the
  lower half of the range counts as off, so it follows changes made elsewhere);
  ``momentary`` is the top while held, the bottom on release (note off, or note on
  with velocity 0).
- ``program``: with ``presets``, program ``p`` loads ``presets[p]`` (out of range:
  nothing); without, program ``number`` fires the binding's command.
- ``cc`` buttons (most controllers send 127 on press, 0 on release) take the note
  modes too: ``trigger``, ``toggle`` and ``momentary`` read a value of 64 or more as
  pressed, and act on the press (the rise from below 64) and, for ``momentary``, on
  the release. So a factory-set momentary button can still latch a mute.
- A command on a cc (a button sending 127/0) fires when the value rises to 64 or
  more from below; on a note, on each press.

Soft takeover (``takeover = "soft"``, the default, for absolute controls): when a
control's position and the param's value differ by more than ``TAKEOVER_TOL`` (one
7-bit step and a half), moving the control does nothing until it reaches or crosses
the value (its last and new positions lie on both sides); from then on it tracks.
State is kept per binding and per matched param: it remembers the control's last
position and the travel it last wrote; when something else (a preset, OSC, a cue)
moves the param away from what the control wrote, the control must take it again.

:meth:`BindingMap.handle` returns what it did as plain param command events
(address = param path, value = (value, fade)) and command events
(``/cue/go`` with no value, ``/scene/load`` with (name,)) that the caller runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import mido

from engine.commands import COMMAND_PATHS
from engine.events import Event
from engine.params import ParamSpace

CONTROLS = ("cc", "cc14", "nrpn", "pitchbend", "note", "program")
RELATIVE = ("relative-twos", "relative-offset", "relative-signbit")
BUTTON = ("trigger", "toggle", "momentary")
MODES: dict[str, tuple[str, ...]] = {
    "cc": ("absolute", *RELATIVE, *BUTTON),
    "cc14": ("absolute",),
    "nrpn": ("absolute", *RELATIVE),
    "pitchbend": ("absolute",),
    "note": BUTTON,
    "program": ("",),
}
NUMBER_MAX = {"cc": 127, "cc14": 31, "nrpn": 16383, "pitchbend": 0, "note": 127, "program": 127}
COMMANDS = COMMAND_PATHS
TAKEOVER_TOL = 1.5 / 127
BINDING_KEYS = {
    "control", "channel", "number", "param", "mode", "range", "invert", "takeover",
    "step", "feedback", "on", "off", "presets",
}  # fmt: skip


def relative_ticks(mode: str, value: int) -> int:
    """An encoder's 7-bit value -> signed ticks."""
    if mode == "relative-twos":
        return value - 128 if value >= 64 else value
    if mode == "relative-offset":
        return value - 64
    if mode == "relative-signbit":
        return -(value & 0x3F) if value & 0x40 else value & 0x3F
    raise ValueError(f"not a relative mode: {mode}")


def pitch_unit(pitch: int) -> float:
    """Pitch bend -8192..8191 -> 0..1 with the centre (0) at exactly 0.5."""
    return 0.5 + pitch / 16384 if pitch < 0 else 0.5 + pitch / 16382


def split_command(param: str) -> tuple[str, tuple[str, ...]] | None:
    """ "/scene/load calm" -> ("/scene/load", ("calm",)); a param path -> None."""
    head, *args = param.split()
    return (head, tuple(args)) if head in COMMANDS else None


@dataclass(frozen=True, slots=True)
class Binding:
    """One control -> one param (pattern) or command. Mutable state lives in the map."""

    control: str
    param: str
    channel: int = 0
    number: int = 0
    mode: str = ""  # "" = the control's default (absolute; note: trigger/toggle)
    range: tuple[float, float] = (0.0, 1.0)
    invert: bool = False
    takeover: str = "soft"
    step: float = 0.01
    feedback: bool = True
    on: int = 127
    off: int = 0
    presets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.mode:
            if self.control == "note":
                mode = "trigger" if self.command else "toggle"
            else:
                mode = "" if self.control == "program" else "absolute"
            object.__setattr__(self, "mode", mode)

    @property
    def command(self) -> tuple[str, tuple[str, ...]] | None:
        return split_command(self.param)

    @property
    def key(self) -> tuple[str, int, int]:
        """What identifies the control (two bindings on one key both act)."""
        number = 0 if self.control == "pitchbend" else self.number
        return (self.control, self.channel, number)

    def place(self, x: float) -> float:
        """A 0..1 control position -> the param's 0..1 travel."""
        lo, hi = self.range
        return lo + (hi - lo) * ((1.0 - x) if self.invert else x)


@dataclass(slots=True)
class _Hold:
    """Per binding and param: the control's last position and what it last wrote."""

    position: float | None = None
    wrote: float | None = None  # the param's travel right after our last write
    travel: float | None = None  # the unrounded travel we aimed at (encoders on ints)


@dataclass(slots=True)
class _Channel:
    """Multi-message state of one MIDI channel: 14-bit MSBs and NRPN selection."""

    msb: dict[int, int] = field(default_factory=dict)  # cc14 MSB controller -> value
    nrpn_msb: int | None = None
    nrpn_lsb: int | None = None
    data_msb: int | None = None


class BindingMap:
    """A controller's bindings with their takeover state."""

    def __init__(
        self, name: str, bindings: Iterable[Binding], port: str = "", path: Path | None = None
    ) -> None:
        self.name, self.port, self.path = name, port, path
        self.bindings = list(bindings)
        self.source = f"midi:{name}"
        self._by_key: dict[tuple[str, int, int], list[Binding]] = {}
        for b in self.bindings:
            self._by_key.setdefault(b.key, []).append(b)
        self._hold: dict[tuple[int, str], _Hold] = {}
        self._channels = [_Channel() for _ in range(16)]
        self._cc_last: dict[tuple[int, int], int] = {}  # (channel, cc) -> last value

    def _find(self, control: str, channel: int, number: int) -> list[Binding]:
        return self._by_key.get((control, channel, number), [])

    def handle(self, msg: mido.Message, params: ParamSpace, t: float) -> list[Event]:
        """Apply the bindings for one message; returns what was done (see module doc)."""
        out: list[Event] = []
        kind = msg.type
        if kind == "control_change":
            self._control_change(msg.channel, msg.control, msg.value, params, t, out)
        elif kind == "pitchwheel":
            for b in self._find("pitchbend", msg.channel, 0):
                self._absolute(b, pitch_unit(msg.pitch), params, t, out)
        elif kind in ("note_on", "note_off"):
            pressed = kind == "note_on" and msg.velocity > 0
            for b in self._find("note", msg.channel, msg.note):
                self._note(b, pressed, params, t, out)
        elif kind == "program_change":
            for b in self.bindings:
                if b.control == "program" and b.channel == msg.channel:
                    self._program(b, msg.program, t, out)
        return out

    # the controls
    def _control_change(
        self, ch: int, cc: int, value: int, params: ParamSpace, t: float, out: list[Event]
    ) -> None:
        prev = self._cc_last.get((ch, cc))
        self._cc_last[(ch, cc)] = value
        pressed = value >= 64
        changed = prev is None or (prev >= 64) != pressed
        for b in self._find("cc", ch, cc):
            if b.command:
                if pressed and changed:
                    self._fire(b, t, out)
            elif b.mode in BUTTON:
                if changed and (pressed or b.mode == "momentary"):
                    self._note(b, pressed, params, t, out)
            elif b.mode in RELATIVE:
                self._relative(b, relative_ticks(b.mode, value), params, t, out)
            else:
                self._absolute(b, value / 127, params, t, out)
        state = self._channels[ch]
        if cc < 32:
            state.msb[cc] = value
            for b in self._find("cc14", ch, cc):
                self._absolute(b, (value << 7) / 16383, params, t, out)
        elif cc < 64 and (msb := state.msb.get(cc - 32)) is not None:
            for b in self._find("cc14", ch, cc - 32):
                self._absolute(b, (msb << 7 | value) / 16383, params, t, out)
        self._nrpn(state, ch, cc, value, params, t, out)

    def _nrpn(
        self, st: _Channel, ch: int, cc: int, value: int, params: ParamSpace, t: float,
        out: list[Event],
    ) -> None:  # fmt: skip
        if cc == 99:
            st.nrpn_msb, st.data_msb = value, None
            return
        if cc == 98:
            st.nrpn_lsb, st.data_msb = value, None
            return
        if cc in (100, 101):
            st.nrpn_msb = st.nrpn_lsb = st.data_msb = None
            return
        if cc not in (6, 38, 96, 97) or st.nrpn_msb is None or st.nrpn_lsb is None:
            return
        binds = self._find("nrpn", ch, st.nrpn_msb << 7 | st.nrpn_lsb)
        if cc == 6:
            st.data_msb = value
        for b in binds:
            if cc in (96, 97):
                self._relative(b, 1 if cc == 96 else -1, params, t, out)
            elif b.mode in RELATIVE:
                if cc == 6:
                    self._relative(b, relative_ticks(b.mode, value), params, t, out)
            elif cc == 6:
                self._absolute(b, (value << 7) / 16383, params, t, out)
            elif st.data_msb is not None:
                self._absolute(b, (st.data_msb << 7 | value) / 16383, params, t, out)

    def _note(
        self, b: Binding, pressed: bool, params: ParamSpace, t: float, out: list[Event]
    ) -> None:
        lo, hi = b.range
        if b.command:
            if pressed:
                self._fire(b, t, out)
            return
        for path in params.match(b.param):
            if b.mode == "momentary":
                self._write(b, path, hi if pressed else lo, params, t, out)
            elif pressed and b.mode == "trigger":
                self._write(b, path, hi, params, t, out)
            elif pressed:  # toggle
                now = params.spec(path).to_unit(params.target(path)[0])
                on = (now - lo) * (hi - lo) >= 0.5 * (hi - lo) ** 2 if hi != lo else False
                self._write(b, path, lo if on else hi, params, t, out)

    def _program(self, b: Binding, program: int, t: float, out: list[Event]) -> None:
        if b.presets:
            if program < len(b.presets):
                out.append(Event(t, self.source, b.param.split()[0], (b.presets[program],)))
        elif b.number == program:
            self._fire(b, t, out)

    def _fire(self, b: Binding, t: float, out: list[Event]) -> None:
        cmd = b.command
        assert cmd is not None
        out.append(Event(t, self.source, cmd[0], cmd[1]))

    # how a position becomes a value
    def _absolute(
        self, b: Binding, x: float, params: ParamSpace, t: float, out: list[Event]
    ) -> None:
        u = b.place(x)
        for path in params.match(b.param):
            hold = self._hold.setdefault((id(b), path), _Hold())
            last, hold.position = hold.position, u
            if b.takeover == "soft":
                now = params.spec(path).to_unit(params.target(path)[0])
                held = hold.wrote is not None and abs(now - hold.wrote) < 1e-9
                crossed = last is not None and (last - now) * (u - now) <= 0
                if not (held or crossed or abs(u - now) <= TAKEOVER_TOL):
                    continue
            self._write(b, path, u, params, t, out)

    def _relative(
        self, b: Binding, ticks: int, params: ParamSpace, t: float, out: list[Event]
    ) -> None:
        if ticks == 0:
            return
        lo, hi = sorted(b.range)
        d = ticks * b.step * (-1 if b.invert else 1)
        for path in params.match(b.param):
            hold = self._hold.get((id(b), path))
            now = params.spec(path).to_unit(params.target(path)[0])
            if hold is not None and hold.wrote is not None and abs(now - hold.wrote) < 1e-9:
                now = hold.travel if hold.travel is not None else now
            self._write(b, path, min(hi, max(lo, now + d)), params, t, out)

    def _write(
        self, b: Binding, path: str, u: float, params: ParamSpace, t: float, out: list[Event]
    ) -> None:
        params.set_unit(path, u)
        value = params.target(path)[0]
        hold = self._hold.setdefault((id(b), path), _Hold())
        hold.wrote = params.spec(path).to_unit(value)
        hold.travel = u
        out.append(Event(t, self.source, path, (value, 0.0)))
