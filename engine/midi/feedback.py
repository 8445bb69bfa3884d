"""Feedback: what a controller's LEDs and motor faders should show, from the params.

A controller map (presets/controllers/*.toml, read as engine/midi/bindings.py reads it)
lists bindings; those with ``feedback`` (the default) that address a param (not a
command such as ``/cue/go``) get a message carrying that param's current state. It is
the inverse of the binding: the param's travel (``spec.to_unit``, through its curve)
placed back along ``range`` (0..1 of the travel) and ``invert``:

- cc / cc14 / pitchbend: that position as 0..127 (0..16383); a cc bound to a bool
  param or in a button mode (trigger, toggle, momentary) sends ``on`` / ``off``
  (default 127 / 0): the nanoKONTROL2's LEDs.
- note: ``note_on`` with the ``on`` velocity when the param is on (the upper half of
  the range), else ``off`` (the APC mini reads velocity as colour: 1 green, 3 red,
  5 yellow, +1 blinks).

:func:`feedback_changes` sends only what changed between two snapshots (after a preset
or a cue), so a scene change does not flood the controller.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mido

from engine.params import ParamSpace, ParamSpec, Value

ControllerMap = Mapping[str, Any]


def load_map(source: str | Path | ControllerMap) -> ControllerMap:
    """A controller map from a TOML file, or the already-loaded dict itself."""
    if isinstance(source, Mapping):
        return source
    with open(source, "rb") as f:
        return tomllib.load(f)


def _unit(spec: ParamSpec, value: float, bind: Mapping[str, Any]) -> float:
    """0..1: where a control stands for `value` (bindings' ``lo + (hi - lo) * x``, undone)."""
    lo, hi = (float(r) for r in bind.get("range", (0.0, 1.0)))
    travel = spec.to_unit(spec.coerce(value)[0])
    x = 0.0 if lo == hi else (travel - lo) / (hi - lo)
    x = min(1.0, max(0.0, x))
    return 1.0 - x if bind.get("invert", False) else x


def _message(bind: Mapping[str, Any], spec: ParamSpec, value: float) -> list[mido.Message]:
    control, ch, num = bind["control"], int(bind.get("channel", 0)), int(bind.get("number", 0))
    x = _unit(spec, value, bind)
    button = bind.get("mode") in ("trigger", "toggle", "momentary")
    if control == "note" or (control == "cc" and (spec.kind == "bool" or button)):
        vel = int(bind.get("on", 127)) if x >= 0.5 else int(bind.get("off", 0))
        if control == "cc":
            return [mido.Message("control_change", channel=ch, control=num, value=vel)]
        return [mido.Message("note_on", channel=ch, note=num, velocity=vel)]
    if control == "cc":
        return [mido.Message("control_change", channel=ch, control=num, value=round(x * 127))]
    if control == "cc14":  # MSB on the number, LSB on number + 32 (the MIDI 1.0 pairing)
        v14 = round(x * 16383)
        return [
            mido.Message("control_change", channel=ch, control=num, value=v14 >> 7),
            mido.Message("control_change", channel=ch, control=num + 32, value=v14 & 0x7F),
        ]
    if control == "pitchbend":
        return [mido.Message("pitchwheel", channel=ch, pitch=round(x * 16383) - 8192)]
    return []  # nrpn and program change carry no feedback here


def _scalar(value: Value) -> float:
    return value[0] if isinstance(value, tuple) else float(value)


def _per_binding(
    cmap: ControllerMap, params: ParamSpace, values: Mapping[str, Value]
) -> dict[int, list[mido.Message]]:
    """Binding index -> its feedback messages, for bindings with feedback and a param."""
    out: dict[int, list[mido.Message]] = {}
    for i, bind in enumerate(cmap.get("bind", ())):
        if not bind.get("feedback", True):
            continue
        paths = params.match(str(bind.get("param", "")).split(" ", 1)[0])
        path = next((p for p in paths if p in values), None)
        if path is None:  # a command (/cue/go), or a dreamer this show does not have
            continue
        out[i] = _message(bind, params.spec(path), _scalar(values[path]))
    return out


def feedback_messages(cmap: str | Path | ControllerMap, params: ParamSpace) -> list[mido.Message]:
    """Every feedback message for the map, from the params' current values (on connect)."""
    per = _per_binding(load_map(cmap), params, params.snapshot())
    return [m for msgs in per.values() for m in msgs]


def feedback_changes(
    cmap: str | Path | ControllerMap,
    before: Mapping[str, Value],
    after: Mapping[str, Value],
    *,
    params: ParamSpace,
) -> list[mido.Message]:
    """Only the feedback that differs between two snapshots (``params.snapshot()``
    before and after a preset or cue); `params` supplies the specs (ranges, curves)."""
    loaded = load_map(cmap)
    old = _per_binding(loaded, params, before)
    new = _per_binding(loaded, params, after)
    return [m for i, msgs in new.items() if old.get(i) != msgs for m in msgs]
