"""The discrete events of the simulated EEG: sleep spindles, K-complexes, vertex sharp
waves, eye movements, sawtooth-wave trains and alpha bursts, each a waveform drawn from
its kind's parameter ranges (how often each comes, per stage, is the simulator's table).
"""

from __future__ import annotations

import math

import numpy as np

# Event parameter ranges (4 uniforms each): spindle/alpha (dur s, peak uV, freq offset
# Hz, phase); K-complex and vertex wave (dur, peak); eye movement (dwell s, uV, rise s,
# sign); sawtooth train (dur, uV, freq 2-5 Hz, rising fraction of each tooth).
SPINDLE, KC, VERTEX, EYE, SAW, ALPHA = range(6)
RANGES = np.array(
    [
        [(0.5, 2.0), (15, 40), (-0.5, 0.5), (0, math.tau)],
        [(0.5, 1.0), (100, 200), (0, 1), (0, 1)],
        [(0.2, 0.35), (40, 100), (0, 1), (0, 1)],
        [(0.15, 0.8), (20, 60), (0.008, 0.02), (0, 1)],
        [(1.5, 4.0), (15, 35), (2.0, 5.0), (0.6, 0.85)],
        [(1.0, 3.0), (10, 25), (-0.3, 0.3), (0, math.tau)],
    ]
)


class Event:
    """One event of `kind` from `start` (s) with parameters `p` (a row drawn in RANGES),
    shifted to start and end at exactly 0 so it adds no step to the EEG."""

    __slots__ = ("end", "kind", "p", "ramp", "start")

    def __init__(self, kind: int, start: float, p: np.ndarray) -> None:
        self.kind, self.start, self.p = kind, start, p
        dur = p[0] + 0.15 if kind == EYE else p[0]
        self.end = start + dur
        e = self.wave(np.array([0.0, dur]), edges=False)  # make it exactly 0 at both ends
        self.ramp = (e[0], (e[1] - e[0]) / dur)

    def wave(self, tt: np.ndarray, edges: bool = True) -> np.ndarray:
        """The waveform (uV) at times `tt` (s) since the start."""
        k, (d, amp, c, e) = self.kind, self.p
        u = tt / d
        if k in (SPINDLE, ALPHA):  # waxing-waning Gaussian envelope
            w = amp * np.exp(-18.0 * (u - 0.5) ** 2) * np.sin(math.tau * c * tt + e)
        elif k == KC:  # sharp negative wave, then a slower positive one (AASM)
            w = amp * (0.45 * np.exp(-29.6 * (u - 0.62) ** 2) - np.exp(-61.7 * (u - 0.3) ** 2))
        elif k == VERTEX:
            w = -amp * np.exp(-22.2 * (u - 0.5) ** 2)
        elif k == EYE:  # EOG leakage: fast deflection and return, 0.5 s high-pass decay
            sign = 1.0 if e < 0.5 else -1.0
            box = np.tanh((tt - 0.03) / c) - np.tanh((tt - 0.03 - d) / c)
            w = (0.5 * sign * amp) * box * np.exp(-tt / 0.5)
        else:  # sawtooth train: slow rise, fast fall, 2-5 Hz (Sato et al. 1997)
            ph = (c * tt) % 1.0
            tooth = np.where(ph < e, ph / e, (1.0 - ph) / (1.0 - e)) * 2.0 - 1.0
            w = amp * np.sin(math.pi * u) ** 2 * tooth
        return w - (self.ramp[0] + self.ramp[1] * tt) if edges else w
