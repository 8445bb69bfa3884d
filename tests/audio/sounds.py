"""Test sounds of known content: clicks at a tempo, kicks and hi-hats at known times,
and pyo's own recordings (`pyo.SNDS_PATH`) placed at known times.

`python tests/audio/sounds.py` writes the shipped example's track
(presets/sounds/kick_hat_120.flac) from `kick_hat_track`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("PYO_GUI_WX", "0")

SR = 48000
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "presets" / "sounds" / "kick_hat_120.flac"


def click(sr: int = SR) -> np.ndarray:
    """A 1 kHz blip, 10 ms, like a metronome's."""
    t = np.arange(int(0.01 * sr)) / sr
    return (0.8 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 300)).astype(np.float32)


def kick(sr: int = SR) -> np.ndarray:
    """A synthetic bass drum: a sine falling from 120 to 45 Hz, 250 ms."""
    t = np.arange(int(0.25 * sr)) / sr
    freq = 45 + 75 * np.exp(-t * 30)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return (0.9 * np.sin(phase) * np.exp(-t * 14)).astype(np.float32)


def hat(sr: int = SR, seed: int = 0) -> np.ndarray:
    """A closed hi-hat: noise above 6 kHz, 50 ms."""
    from scipy.signal import butter, sosfilt

    n = int(0.05 * sr)
    noise = np.random.default_rng(seed).normal(0, 0.5, n)
    sos = butter(4, 6000, "highpass", fs=sr, output="sos")
    return (sosfilt(sos, noise) * np.exp(-np.arange(n) / sr * 80)).astype(np.float32)


def place(
    sound: np.ndarray, times: np.ndarray, seconds: float, sr: int = SR, into=None
) -> np.ndarray:
    out = np.zeros(int(seconds * sr), np.float32) if into is None else into
    for t in times:
        i = round(t * sr)
        part = sound[: max(0, len(out) - i)]
        out[i : i + len(part)] += part
    return out


def click_track(bpm: float, seconds: float, start: float = 0.5, sr: int = SR):
    """Clicks every beat from `start`; returns (samples, click times)."""
    times = np.arange(start, seconds - 0.05, 60.0 / bpm)
    return place(click(sr), times, seconds, sr), times


def kick_hat_track(seconds: float = 8.0, bpm: float = 120.0, sr: int = SR):
    """Kicks on the beats, hats on the offbeats (from 0.5 s); returns (samples,
    kick times, hat times)."""
    beat = 60.0 / bpm
    kicks = np.arange(0.5, seconds - 0.3, beat)
    hats = kicks + beat / 2
    hats = hats[hats < seconds - 0.1]
    x = place(kick(sr), kicks, seconds, sr)
    place(hat(sr), hats, seconds, sr, into=x)
    return x, kicks, hats


def recording(name: str = "transparent.aif") -> tuple[np.ndarray, int]:
    """One of pyo's shipped recordings, mono float32, at its own rate."""
    import pyo
    import soundfile

    data, rate = soundfile.read(os.path.join(pyo.SNDS_PATH, name), dtype="float32")
    return (data if data.ndim == 1 else data.mean(axis=1)), rate


def attack(x: np.ndarray, sr: int, threshold_db: float = -30.0) -> float:
    """Seconds into `x` where it first comes within `threshold_db` of its peak."""
    level = np.abs(x) / np.max(np.abs(x))
    return float(np.argmax(level > 10 ** (threshold_db / 20)) / sr)


if __name__ == "__main__":
    import soundfile

    x, _, _ = kick_hat_track(seconds=8.0, sr=22050)
    SHIPPED.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(SHIPPED, x, 22050, subtype="PCM_16")
    print(f"wrote {SHIPPED} ({SHIPPED.stat().st_size} bytes)", file=sys.stderr)
