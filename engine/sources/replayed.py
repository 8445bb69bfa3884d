"""Dreamers' inputs as a session log kept them: the live night's sources, again.

A live show's OSC dreamers are fed by messages and its LSL and BrainFlow dreamers by
reads of an outside stream; neither can be asked again. The session log keeps both
(engine.record writes it, engine.sessions reads it), and a replay builds its show with
`RecordedInputs`: the OSC groups listen on no socket (the log's messages are routed as
they were, to the same ports' routes), and each pulled source becomes a `ReplayedSource`
whose nth read returns what the live source's nth read returned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RecordedInputs:
    """What a replayed show needs of its inputs, from a session log."""

    endpoints: Sequence[Sequence[str]] = ()  # each OSC group's ports, as bound live
    readers: Mapping[int, Mapping[str, object]] = field(default_factory=dict)  # rates, silence
    readings: Mapping[int, Mapping[int, Mapping[str, np.ndarray]]] = field(default_factory=dict)


class ReplayedSource:
    """A pulled source (LSL, BrainFlow) read back: read n gives what live read n gave,
    and presence follows the same rule (samples within `silence` seconds)."""

    def __init__(
        self,
        rates: Mapping[str, float],
        silence: float,
        readings: Mapping[int, Mapping[str, np.ndarray]],
    ) -> None:
        self.rates = {str(k): float(v) for k, v in rates.items()}
        self.silence = float(silence)
        self._readings = readings
        self._n = 0
        self.last_seen = -math.inf

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        got = self._readings.get(self._n, {})
        self._n += 1
        out = {sig: np.asarray(x, np.float64) for sig, x in got.items()}
        if any(len(x) for x in out.values()) and math.isfinite(t_end):
            self.last_seen = t_end
        return out

    def present(self, t: float) -> bool:
        return t - self.last_seen <= self.silence

    def close(self) -> None:
        """Nothing to let go of (the interface of the sources it stands for)."""
