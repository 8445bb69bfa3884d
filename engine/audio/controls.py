"""A patch's own controls as params: `/dreamer/N/voice/<name>` for a voice, `/master/<name>`
for the master bus.

Every voice gets the standard controls (amp, alpha, pitch...) from the rig each frame;
what a patch declares beyond them in CONTROLS (drone's `detune`, the master's `drive`
and `room`) becomes a param with the patch's value as its default, so OSC, MIDI, cues,
scenes and mapping scripts can reach it like any other. A patch may give a control's
range, unit and description in SPECS; without one the range is 0..max(1, 2 x default).

    CONTROLS = {..., "detune": 0.45}
    SPECS = {"detune": {"min": 0.0, "max": 1.0, "doc": "SuperSaw spread"}}
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping

from engine.audio.voices import STANDARD_CONTROLS
from engine.params import ParamSpec

# what the show itself drives on every voice (engine.audio.voices.STANDARD_CONTROLS) or
# on the master bus (its own /master params and the voice count): not a patch's own
ENGINE_DRIVEN = frozenset(STANDARD_CONTROLS)
# the master bus's controls the show owns, whatever the master patch: their defaults are here
MASTER_PARAMS = (
    ParamSpec("/master/volume", 0.8, smooth=0.05, doc="master level"),
    ParamSpec("/master/reverb", 0.35, smooth=0.2, doc="reverb mix"),
)
MASTER_DRIVEN = frozenset((*(s.path.rsplit("/", 1)[1] for s in MASTER_PARAMS), "voices"))
SPEC_KEYS = frozenset(("min", "max", "unit", "doc", "curve"))


def own_controls(module: types.ModuleType, driven: Iterable[str]) -> dict[str, float]:
    """The controls a patch declares beyond what the show drives, with their defaults."""
    skip = set(driven)
    controls: Mapping[str, float] = getattr(module, "CONTROLS", {})
    return {k: float(v) for k, v in controls.items() if k not in skip}


def control_specs(module: types.ModuleType, prefix: str, driven: Iterable[str]) -> list[ParamSpec]:
    """ParamSpecs for a patch's own controls under `prefix` ("/dreamer/3/voice")."""
    specs: Mapping[str, Mapping[str, object]] = getattr(module, "SPECS", {}) or {}
    out = []
    for name, default in own_controls(module, driven).items():
        given = dict(specs.get(name, {}))
        unknown = set(given) - SPEC_KEYS
        if unknown:
            raise ValueError(f"SPECS[{name!r}]: unknown key(s) {sorted(unknown)}")
        lo = float(given.get("min", min(0.0, default)))  # type: ignore[arg-type]
        hi = float(given.get("max", max(1.0, 2 * default)))  # type: ignore[arg-type]
        out.append(
            ParamSpec(
                f"{prefix}/{name}",
                min(max(default, lo), hi),
                lo,
                hi,
                curve=str(given.get("curve", "lin")),  # type: ignore[arg-type]
                smooth=0.05,
                unit=str(given.get("unit", "")),
                doc=str(given.get("doc", f"the patch's {name}")),
            )
        )
    return out
