"""Several EEG electrodes: bands per channel, combined as the profile says; a dead
electrode does not drag the others."""

from __future__ import annotations

import numpy as np
import pytest

from engine.dreamers import Dreamer
from engine.features import combine_bands
from engine.features.dsp import band_powers
from engine.params import ParamSpace


class Columns:
    """A source that hands out (n, channels) EEG blocks, as NetworkSource does."""

    def __init__(self, data: np.ndarray) -> None:
        self.rates = {"eeg": 250.0}
        self.data, self.given = data, 0

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        n = min(len(self.data), int(t_end * 250))
        out = self.data[self.given : n]
        self.given = n
        return {"eeg": out}


def eeg(alpha: float, seconds=6.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 250)) / 250
    return 20 * alpha * np.sin(2 * np.pi * 10 * t) + 5 * rng.standard_normal(len(t))


def test_bands_are_computed_per_channel_and_averaged():
    chans = [eeg(1.0, seed=1), eeg(0.2, seed=2), eeg(0.6, seed=3)]
    d = Dreamer(0, seed=1, source=Columns(np.stack(chans, 1)), shader="tide", patch="drone",
                drive="features", enhance=False, params=ParamSpace(), count=1)  # fmt: skip
    d.pull(6.0)
    d.analyse(6.0)
    each = [band_powers(c[-1000:], 250.0)["alpha"] for c in chans]
    assert d.features.alpha == pytest.approx(np.mean(each), abs=0.01)
    assert len(d.eeg_channels) == 3 and d.problem is None


def test_a_flat_channel_is_left_out_of_the_combination():
    good = eeg(1.0)
    both = combine_bands([good, np.zeros_like(good)], 250.0)
    assert both is not None
    assert both["alpha"] == pytest.approx(band_powers(good, 250.0)["alpha"], abs=1e-9)
    assert combine_bands([np.zeros(500)], 250.0) is None
    median = combine_bands([eeg(1.0, seed=1), eeg(0.1, seed=2), eeg(0.9, seed=3)], 250.0, "median")
    assert median is not None and abs(sum(median.values()) - 1) < 1e-9
