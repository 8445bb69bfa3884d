"""The per-frame analysis of the audio input, on sounds of known content: clicks at a
known tempo, kicks and hats at known times, and pyo's own recordings."""

from __future__ import annotations

import numpy as np
import pytest
from sounds import SR, attack, click_track, kick_hat_track, place, recording

from engine.audio.analysis import BANDS, Analysis, audio_in_params, spectrum_edges
from engine.audio.inputs import decode

FPS = 30
BLOCK = SR // FPS


def frames(x: np.ndarray, analysis: Analysis | None = None, block: int = BLOCK):
    """Feed `x` a frame at a time; every frame's Heard."""
    a = analysis or Analysis(SR)
    return [a.feed(x[i : i + block]) for i in range(0, len(x) - block + 1, block)]


def onsets(heard) -> np.ndarray:
    return np.array(sorted({h.onset_time for h in heard if h.onset}))


@pytest.mark.parametrize("bpm", [120.0, 97.0])
def test_a_click_track_gives_its_tempo_within_1_bpm_and_every_click_within_20_ms(bpm):
    x, clicks = click_track(bpm, 20.0)
    heard = frames(x)
    assert heard[-1].bpm == pytest.approx(bpm, abs=1.0)
    found = onsets(heard)
    assert len(found) == len(clicks), (found, clicks)
    assert np.max(np.abs(found - clicks)) < 0.020
    assert sum(h.onset for h in heard) == len(clicks), "one onset frame per click"


def test_the_beat_phase_is_locked_to_the_clicks():
    x, clicks = click_track(120.0, 16.0)
    heard = frames(x)[-150:-30]  # 11-15 s, once the tracker has settled, clicks still on
    beats = np.array([h.beat_time for h in heard if h.beat])
    assert len(beats) >= 7
    assert max(np.min(np.abs(clicks - b)) for b in beats) < 0.030
    # between beats the phase climbs at bpm/60 a second and wraps on the beat
    phases = np.array([h.phase for h in heard])
    steps = np.diff(phases)
    rising = steps[steps > 0]
    assert np.median(rising) == pytest.approx(2.0 / FPS, rel=0.1)


def test_the_bass_band_rises_on_a_kick_and_not_on_a_hihat():
    x, kicks, hats = kick_hat_track(8.0)
    heard = frames(x)
    bass = np.array([h.bands["bass"] for h in heard])
    high = np.array([h.bands["high"] for h in heard])

    def at(times: np.ndarray, values: np.ndarray) -> np.ndarray:
        idx = (np.floor(times * FPS) + 1).astype(int)  # the frame after the hit's start
        return values[idx[idx < len(values)]]

    before = at(kicks - 0.1, bass)
    assert (at(kicks, bass) > 0.7).all(), "a kick fills the bass band"
    assert (at(kicks, bass) - before > 0.3).all(), "and rises from what came before"
    # a hat sits between two kicks, after the last has decayed: the bass stays down
    assert at(hats, bass).max() < at(kicks, bass).min() - 0.3
    assert (at(hats, high) > 0.5).all(), "the hat is in the high band"
    assert at(kicks, high).max() < at(hats, high).min()


def test_levels_and_bands_of_a_sine():
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 750 * t)).astype(np.float32)  # 25 periods a frame
    h = frames(x)[-1]
    assert h.rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert h.peak == pytest.approx(0.5, rel=1e-3)
    # -6 dBFS in the mid band reads (60 - 6) / 60; the others are far below
    assert h.bands["mid"] == pytest.approx(54 / 60, abs=0.02)
    assert max(h.bands[b] for b in ("bass", "low_mid", "high")) < 0.5
    edges = spectrum_edges(len(h.spectrum))
    k = int(np.searchsorted(edges, 750.0)) - 1
    assert int(np.argmax(h.spectrum)) == k


def test_silence_reads_zero_and_no_onsets():
    heard = frames(np.zeros(SR * 3, np.float32))
    assert all(h.rms == 0 and not h.onset and h.bands["bass"] == 0 for h in heard)


def test_a_real_recording_placed_at_known_times_gives_its_onsets_within_20_ms():
    """pyo's transparent.aif (a recorded sound, 44.1 kHz), decoded and resampled as a
    file input does, placed every 0.9 s: each onset lands within 20 ms of where its
    attack was placed."""
    import os

    import pyo

    sound = decode(__import__("pathlib").Path(os.path.join(pyo.SNDS_PATH, "transparent.aif")), SR)
    mono = sound.mean(axis=1)
    starts = np.arange(0.5, 9.0, 0.9)
    x = place(mono, starts, 10.0)
    found = onsets(frames(x))
    truth = starts + attack(mono, SR)
    near = np.array([np.min(np.abs(found - t)) for t in truth])
    assert (near < 0.020).all(), (near, found)
    own, rate = recording("transparent.aif")
    assert rate == 44100 and len(mono) == pytest.approx(len(own) * SR / rate, abs=2)


def test_frame_sizes_do_not_change_what_is_heard():
    """aubio works in whole hops; frames that are not multiples of a hop carry over."""
    x, _ = click_track(120.0, 8.0)
    a = onsets(frames(x, block=1600))
    b = onsets(frames(x, block=1470))
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_the_params_are_read_only_outputs_with_units():
    specs = {s.path: s for s in audio_in_params(8)}
    assert {f"/audio/in/{b[0]}" for b in BANDS} <= set(specs)
    assert {f"/audio/in/spectrum/{k}" for k in range(1, 9)} <= set(specs)
    assert all(s.access == "r" and s.doc for s in specs.values())
    assert specs["/audio/in/bpm"].unit == "BPM"
