"""Master bus: every voice summed, a reverb, a limiter, the volume.

The engine drives `voices` (how many voices are playing) so a crowd of 64 dreamers
sits at about the loudness of one; a look-ahead peak limiter keeps the sum under
the ceiling, and the engine clips whatever slips through at +-1.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyo

CEILING = 0.9  # the limiter's ceiling, below full scale
LOOKAHEAD = 0.005  # seconds

# the bus's own controls; the show adds volume and reverb (/master/volume, /master/reverb,
# 0..1: their defaults are the show's) and voices (how many voices play)
CONTROLS: dict[str, float] = {
    "drive": 3.0,  # gain into the limiter
    "room": 0.85,  # reverb size, 0..1
}
# the bus's own controls as params (/master/drive, /master/room)
SPECS = {
    "drive": {"min": 0.5, "max": 10.0, "doc": "gain into the limiter"},
    "room": {"min": 0.0, "max": 1.0, "doc": "reverb size"},
}


def build(inputs: pyo.PyoObject, ctl: Mapping[str, pyo.PyoObject]) -> pyo.PyoObject:
    # uncorrelated voices add up as sqrt(n); the fade-in spares the limiter a cold start
    fade_in = pyo.Fader(fadein=0.05).play()
    crowd = inputs * ctl["drive"] / pyo.Sqrt(pyo.Max(ctl["voices"], 1.0)) * fade_in
    hall = pyo.Freeverb(crowd, size=ctl["room"], damp=0.6, bal=ctl["reverb"])
    # look-ahead peak limiter: catch every peak, glide to its level (1 ms) while the
    # signal is still 5 ms away, and let go slowly after it
    peaks = pyo.Follower2(pyo.Abs(hall), risetime=0.0001, falltime=0.3)
    level = pyo.Follower2(peaks, risetime=0.001, falltime=0.3)
    gain = CEILING / pyo.Max(level, CEILING)
    return pyo.Delay(hall, delay=LOOKAHEAD, mul=gain * ctl["volume"])
