"""A hypnogram: the sleep stages a simulated dreamer goes through, and when.

Stages change with a crossfade (`transition` seconds wide), so a dreamer's stage mix at
any time is a set of weights that sum to one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

STAGES = ("W", "N1", "N2", "N3", "REM")
STAGE_INDEX = {s: i for i, s in enumerate(STAGES)}


def _ramp(x: float, width: float) -> float:
    """Smooth step from 0 (x <= -width/2) to 1 (x >= width/2)."""
    if x >= 0.5 * width:
        return 1.0
    if x <= -0.5 * width:
        return 0.0
    return 0.5 + 0.5 * math.sin(math.pi * x / width)


@dataclass(frozen=True)
class Hypnogram:
    """A stage sequence: stages[i] holds from times[i] (seconds) until times[i+1]."""

    times: tuple[float, ...]
    stages: tuple[str, ...]
    transition: float = 20.0  # seconds over which the stage mix crossfades

    def __post_init__(self) -> None:
        times, stages = tuple(float(t) for t in self.times), tuple(self.stages)
        if not times or len(times) != len(stages):
            raise ValueError("a hypnogram needs as many times as stages, at least one")
        if not all(map(math.isfinite, times)) or any(b <= a for a, b in pairwise(times)):
            raise ValueError("hypnogram times must be finite and increase strictly")
        if not (math.isfinite(self.transition) and self.transition >= 0):
            raise ValueError("transition must be a finite number of seconds >= 0")
        bad = sorted(set(stages) - set(STAGES))
        if bad:
            raise ValueError(f"unknown stages {bad}; use {STAGES} (map R to REM)")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "stages", stages)

    @classmethod
    def from_epochs(cls, stages: Sequence[str], epoch: float = 30.0) -> Hypnogram:
        if epoch <= 0:
            raise ValueError("epoch must be positive")
        return cls(tuple(i * epoch for i in range(len(stages))), tuple(stages))

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[float, str]]) -> Hypnogram:
        return cls(tuple(t for t, _ in pairs), tuple(s for _, s in pairs))

    def weights(self, t: float) -> np.ndarray:
        """Stage weights in STAGES order: the stage sequence smoothed by a raised-cosine
        step of width ``transition`` at each boundary (first/last stage extend forever)."""
        w, times, h = np.zeros(len(STAGES)), self.times, 0.5 * self.transition
        i0 = max(bisect_right(times, t - h) - 1, 0)
        i1 = max(bisect_right(times, t + h) - 1, 0)
        for i in range(i0, i1 + 1):
            s_in = 1.0 if i == 0 else _ramp(t - times[i], self.transition)
            s_out = _ramp(t - times[i + 1], self.transition) if i + 1 < len(times) else 0.0
            w[STAGE_INDEX[self.stages[i]]] += s_in - s_out
        return w

    def mix(self, t: float) -> dict[str, float]:
        return dict(zip(STAGES, (float(x) for x in self.weights(t)), strict=True))

    def stage_at(self, t: float) -> str:
        return self.stages[max(bisect_right(self.times, t) - 1, 0)]
