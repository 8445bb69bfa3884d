"""Drone: a breathing bed of detuned saws.

A SuperSaw and a sub-octave sine through a Moog low-pass. Alpha opens the filter,
delta (deep sleep) darkens it, arousal adds resonance; the breath envelope (amp)
swells the level. The per-dreamer seed places it in the stereo field.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pyo

CONTROLS: dict[str, float] = {
    "amp": 0.5,  # breath envelope, 0..1
    "breath_phase": 0.0,  # 0..1 through one breath
    "alpha": 0.3,
    "theta": 0.3,
    "delta": 0.2,
    "heart_bpm": 60.0,
    "arousal": 0.3,
    "pitch": 110.0,  # Hz
    "detune": 0.45,  # SuperSaw spread, 0..1
}
# this patch's own controls as params (/dreamer/N/voice/detune): their range and meaning
SPECS = {"detune": {"min": 0.0, "max": 1.0, "doc": "SuperSaw spread"}}


def build(ctl: Mapping[str, pyo.PyoObject], seed: int) -> pyo.PyoObject:
    pitch, alpha = ctl["pitch"], ctl["alpha"]
    saw = pyo.SuperSaw(freq=pitch, detune=ctl["detune"], bal=0.75)
    sub = pyo.Sine(freq=pitch * 0.5, mul=0.4)
    # alpha squared: most of the filter's travel comes near the top
    cutoff = (pitch * 1.5 + alpha * alpha * 4500) * (1 - 0.6 * ctl["delta"])
    tone = pyo.MoogLP(saw + sub, freq=pyo.Clip(cutoff, 40, 15000), res=ctl["arousal"] * 0.5)
    swell = 0.25 + 0.75 * ctl["amp"]
    return pyo.Pan(tone, outs=2, pan=random.Random(seed).uniform(0.25, 0.75), mul=swell * 0.5)
