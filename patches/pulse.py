"""Pulse: the heartbeat, a soft pitched lub-dub.

A Phasor turns once per beat (heart_bpm / 60) and reads an envelope with two bumps,
the strong "lub" at the top of the beat and the softer "dub" a third of a beat later:
no per-frame triggers. Each bump is a sine thump that falls in pitch as it decays,
with a breath of band-passed noise for the skin. Breath and arousal swell it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pyo

CONTROLS: dict[str, float] = {
    "amp": 0.5,
    "breath_phase": 0.0,
    "alpha": 0.3,
    "theta": 0.3,
    "delta": 0.2,
    "heart_bpm": 60.0,  # beats per minute
    "arousal": 0.3,
    "pitch": 110.0,
    "click": 0.4,  # noise in the attack, 0..1
}
SPECS = {"click": {"min": 0.0, "max": 1.0, "doc": "noise in the attack"}}

# one beat, in 1/8192ths: lub at 0, dub at about a third, silence after
BEAT = [(0, 0.0), (40, 1.0), (700, 0.2), (1500, 0.0), (2700, 0.0), (2740, 0.6), (3500, 0.0)]


def build(ctl: Mapping[str, pyo.PyoObject], seed: int) -> pyo.PyoObject:
    beat = pyo.Phasor(freq=ctl["heart_bpm"] / 60)
    env = pyo.Pointer(pyo.CosTable([*BEAT, (8191, 0.0)]), beat)
    thump = pyo.Sine(freq=ctl["pitch"] * (0.5 + 0.4 * env), mul=env)
    noise = pyo.Noise()
    noise.type = 1  # the cheap generator: the default one costs as much as ten sines
    skin = pyo.ButBP(noise, freq=ctl["pitch"] * 8, q=2, mul=env * env * ctl["click"])
    swell = (0.35 + 0.65 * ctl["amp"]) * (0.8 + 0.4 * ctl["arousal"])
    pan = random.Random(seed).uniform(0.3, 0.7)
    return pyo.Pan(thump + skin, outs=2, pan=pan, mul=swell * 0.5)
