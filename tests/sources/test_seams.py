"""A looping recording's analysis windows never straddle the seam where its end meets
its start: the breath rate of a 60-s recording holds across the loop (it read 10.4-11.0
for a true 8.3/min when the window held both ends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dreamers import Dreamer
from engine.params import ParamSpace
from engine.sources.playback import Playback
from engine.sources.recordings import Channel, Recording

TRUE_RATE = 8.3  # a minute: 60 s hold 8.3 cycles, so the seam breaks the cycle


def _breath_rates(loop_aware: bool, seconds: float = 200.0) -> np.ndarray:
    fs = 25.0
    t = np.arange(int(60 * fs)) / fs
    noise = 0.05 * np.random.default_rng(1).standard_normal(len(t))
    x = np.sin(2 * np.pi * TRUE_RATE / 60 * t) + noise
    playback = Playback(Recording(Path("rsp.txt"), {"resp": Channel("resp", x, fs)}), loop=True)
    if not loop_aware:
        playback.seam = lambda sig: None  # type: ignore[method-assign]
    d = Dreamer(0, seed=1, source=playback, shader="tide", patch="drone", drive="features",
                enhance=False, params=ParamSpace(), count=1)  # fmt: skip
    rates = []
    for i in range(int(seconds * 10)):
        d.pull(i / 10)
        d.analyse(i / 10)
        if i / 10 >= 35:  # once the 30-s window is full
            rates.append(d.features.breath_rate)
    return np.array(rates)


def test_breath_rate_holds_across_the_loop_seam():
    rates = _breath_rates(loop_aware=True)
    assert np.all(np.abs(rates - TRUE_RATE) < 0.4), (rates.min(), rates.max())


def test_a_window_across_the_seam_would_misread_it():
    rates = _breath_rates(loop_aware=False)  # the check above is not vacuous
    assert np.max(np.abs(rates - TRUE_RATE)) > 1.0


def test_the_seam_is_where_the_file_starts_again():
    x = np.arange(100.0)
    playback = Playback(
        Recording(Path("x"), {"resp": Channel("resp", x, 10.0)}), loop=True, start=2
    )
    assert playback.seam("resp") is None
    got = playback.read(9.0)["resp"]  # 90 samples from sample 20: the file ends at 80
    k = playback.seam("resp")
    assert k == 80 and got[k] == 0.0 and got[k - 1] == 99.0
