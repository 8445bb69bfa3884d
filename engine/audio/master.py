"""The master bus: the master patch over the voices' bus, swapped with a crossfade, then
the clip, the device output and the tap that reads each offline frame.

    bus -> master patch build(bus, ctl) -> InputFader (swaps masters) -> Clip(-1, 1)
        -> .out() (device, live) and a tap (offline frames)
"""

from __future__ import annotations

import math
import os
import types
from typing import Any

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")
import pyo  # (after PYO_GUI_WX)

from engine.audio.controls import MASTER_PARAMS
from engine.audio.graph import PatchError, Tap, ramp_to, release
from engine.audio.patching import Patches
from engine.audio.voices import XFADE

# the attributes that hold pyo objects, dropped by close()
_GRAPH = ("_tap", "_final", "_fader", "out", "_end")


class MasterBus:
    """patches/<name>.py's build(bus, ctl) on `bus`, out on `nchnls` channels; the tap
    holds one frame of `samples`. Its controls live across swaps and rebuilds."""

    def __init__(self, patches: Patches, bus: Any, name: str, nchnls: int, samples: int) -> None:
        self._patches, self._bus, self._nchnls, self._samples = patches, bus, nchnls, samples
        self.controls: dict[str, Any] = {}  # name -> pyo.SigTo
        self.sent: dict[str, tuple[float, float]] = {}
        self._masters: list[tuple[list[Any], float]] = []  # objects, drop time (inf: current)
        self._end: Any = None
        try:
            self.out = self._make(name)
            self._end = pyo.Sig(0.0).stop()  # marker: new masters go before it
            self._output()
        except BaseException:
            self.close()  # the traceback keeps this object: let its pyo objects go
            raise
        self.patch = name

    def _make(self, name: str) -> Any:
        module: types.ModuleType = self._patches.module(name)
        start = self._patches.begin()
        # what the show drives (volume, reverb: their params' defaults; "voices", the
        # voice count) joins the patch's own controls
        driven = {spec.path.rsplit("/", 1)[1]: spec.default for spec in MASTER_PARAMS}
        for k, v in {**driven, **module.CONTROLS, "voices": 0.0}.items():
            if k not in self.controls:  # new controls join, live values stay
                self.controls[k] = pyo.SigTo(float(v), time=0.05, init=float(v))
                self.sent[k] = (float(v), 0.05)
        ctl = types.MappingProxyType(self.controls)
        sound, objs = self._patches.build(name, module.build, self._bus, ctl)
        out = pyo.Mix(sound, voices=self._nchnls)
        if self._end is not None:
            self._patches.adopt(start, self._end)
        self._masters.append(([*objs, out], math.inf))
        return out

    def _output(self) -> None:
        """The end of the chain: a crossfader for master swaps, the clip, out and tap."""
        old_tap, old_final = self.__dict__.get("_tap"), self.__dict__.get("_final")
        self._fader = pyo.InputFader(self.out)
        self._final = pyo.Clip(self._fader, -1.0, 1.0).out()
        self._tap = Tap(self._final, self._samples, self._nchnls)
        if old_tap is not None:
            old_tap.close()
        if old_final is not None:
            old_final.stop()

    def set(self, control: str, value: float, time: float) -> bool:
        """Ramp a control; False for one the master has not, or a value not finite."""
        return ramp_to(self.controls, self.sent, control, value, time)

    def swap(self, name: str, now: float) -> None:
        """Crossfade to patches/<name>.py; a PatchError keeps the old master playing.
        The old one is dropped by `reap` once its fade-out is over."""
        old, self._masters = self._masters, []
        try:
            new = self._make(name)
        except PatchError:
            self._masters = old
            raise
        ends = now + XFADE + 0.02
        self._masters += [(objs, min(t, ends)) for objs, t in old]
        self._fader.setInput(new, XFADE)
        self.out, self.patch = new, name

    def reap(self, now: float) -> None:
        """Drop the masters whose fade-out is over."""
        if any(ends <= now for _, ends in self._masters):
            for objs, ends in self._masters:
                if ends <= now:
                    release(objs)
            self._masters = [(objs, ends) for objs, ends in self._masters if objs]
            self._fader.setInput(self.out, 0.001)  # let go of the old input

    def rebuild(self) -> None:
        """Build the master and the output again from scratch (NaN or inf stuck in it)."""
        for objs, _ in self._masters:
            release(objs)
        self._masters.clear()
        self.out = self._make(self.patch)
        self._output()

    def read(self) -> np.ndarray:
        """The last frame of the output, after the clip: (samples, nchnls) float32."""
        return self._tap.read()

    def close(self) -> None:
        """Stop and drop every pyo object, the tap's table views first."""
        for objs, _ in self._masters:
            release(objs)
        self._masters.clear()
        if "_tap" in self.__dict__:
            self._tap.close()
        for name in _GRAPH:
            self.__dict__.pop(name, None)
        self.controls.clear()
