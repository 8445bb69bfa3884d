"""A voice: one dreamer's patch built on the engine's server, with the SigTo controls it
reads, its level, and a tap for `levels()`.

    patch build(ctl, seed) -> Mix to nchnls, * gain -> (the engine's bus)
"""

from __future__ import annotations

import math
import os
import types
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.audio.graph import PatchError, Tap, release
from engine.audio.patching import Patches

XFADE = 0.05  # seconds: voices added while playing, replaced or removed, and masters swapped
# the controls the rig drives on every voice; a patch's CONTROLS override the defaults
STANDARD_CONTROLS: dict[str, float] = {
    "amp": 0.5,
    "breath_phase": 0.0,
    "alpha": 0.3,
    "theta": 0.3,
    "delta": 0.2,
    "heart_bpm": 60.0,
    "arousal": 0.3,
    "pitch": 110.0,
}


@dataclass
class Voice:
    patch: str
    controls: dict[str, Any]  # name -> pyo.SigTo
    gain: Any  # pyo.SigTo
    objs: list[Any]  # every pyo object the patch's build created
    out: Any  # pyo.Mix: the voice on nchnls channels, times gain
    tap: Tap  # of `out`, for levels()
    sent: dict[str, tuple[float, float]] = field(default_factory=dict)  # control -> value, ramp
    ends: float = math.inf  # engine time at which a retiring voice is dropped

    def drop(self) -> None:
        self.tap.close()
        release(self.objs)
        self.out = self.gain = None
        self.controls.clear()


def voice_seed(seed: int, key: str) -> int:
    """The seed a voice's build gets: the engine's, told apart by the voice's key."""
    return (seed * 1_000_003 + zlib.crc32(key.encode())) % 2_147_483_647


def build_voice(
    patches: Patches,
    patch: str,
    module: types.ModuleType,
    values: Mapping[str, float],
    *,
    seed: int,
    level: float,
    fade_in: bool,
    nchnls: int,
    samples: int,
) -> Voice:
    """A voice of `patch` (its loaded `module`) with its controls at `values`, at `level`
    (faded in over XFADE from silence when `fade_in`); its tap reads `samples` a frame.
    PatchError if the build fails, with nothing of it left."""
    ctl = {k: pyo.SigTo(float(v), time=0.05, init=float(v)) for k, v in values.items()}
    try:
        sound, objs = patches.build(patch, module.build, types.MappingProxyType(ctl), seed)
    except PatchError:
        release(list(ctl.values()))
        ctl.clear()  # the traceback keeps this frame: let the SigTos go
        raise
    gain = pyo.SigTo(level, time=XFADE, init=0.0 if fade_in else level)
    out = pyo.Mix(sound, voices=nchnls, mul=gain)
    voice = Voice(patch, ctl, gain, objs, out, Tap(out, samples, nchnls))
    voice.sent = {k: (float(v), 0.05) for k, v in values.items()}
    voice.sent["gain"] = (level, XFADE)
    return voice
