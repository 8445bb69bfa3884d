"""Choir: a formant pad that sings "oo" in theta and opens to "ah" in alpha.

Three band-limited pulse trains (root, fifth, octave, with a slow vibrato) are
shaped by three vowel formants. The vowel follows alpha's share of alpha + theta;
arousal adds harmonics (brightness); breath swells the level.
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
    "heart_bpm": 60.0,
    "arousal": 0.3,
    "pitch": 220.0,
}

OO = (325.0, 700.0, 2530.0)  # formant centres (Hz) of the two vowels
AH = (800.0, 1150.0, 2900.0)
GAINS = (1.0, 0.6, 0.3)
CHORD = (1.0, 1.5, 2.004)  # root, fifth, a slightly wide octave


def build(ctl: Mapping[str, pyo.PyoObject], seed: int) -> pyo.PyoObject:
    rng = random.Random(seed)
    vibrato = pyo.Sine(freq=4.2 + rng.random(), mul=0.005, add=1.0)
    notes = ctl["pitch"] * vibrato * list(CHORD)
    # (not pyo.FM: with an index over 1 its carrier swings below 0 Hz, and pyo 1.1 then
    # reads past the end of its sine table, now and then a NaN)
    chord = pyo.Blit(freq=notes, harms=8 + 40 * ctl["arousal"]).mix(1)
    open_ = ctl["alpha"] / (ctl["alpha"] + ctl["theta"] + 0.05)  # 0 = "oo", 1 = "ah"
    vowel = sum(
        pyo.Reson(chord, freq=oo + (ah - oo) * open_, q=6, mul=gain)
        for oo, ah, gain in zip(OO, AH, GAINS, strict=True)
    )
    swell = 0.2 + 0.8 * ctl["amp"]
    return pyo.Pan(vowel, outs=2, pan=rng.uniform(0.2, 0.8), spread=0.3, mul=swell * 1.6)
