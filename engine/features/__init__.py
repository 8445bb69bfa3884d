"""Features of one dreamer's signals: EEG band shares, heart, breath, arousal; group resonance.

Everything here is a pure function of a window of samples, cheap enough for the frame
loop (64 dreamers, ~10 times a second): filters are designed once per (rate, band) and
cached. Nothing returns NaN: missing, short or flat input gives zeros and quality 0,
and non-finite samples (WFDB marks invalid samples NaN) are interpolated over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from engine.features.breath import breath
from engine.features.dsp import BANDS, BEAT_DECAY_S, band_powers
from engine.features.heart import HeartEstimate, heart_rate_ecg, heart_rate_ppg

# Arousal weights: slow bands pull down, fast bands push up (a spectral "centroid" on the
# sleep-wake axis: N3 delta < drowsy theta < relaxed alpha < alert beta/gamma).
AROUSAL_WEIGHTS = {"delta": -1.0, "theta": -0.5, "alpha": 0.5, "sigma": 0.5, "beta": 1.0,
                   "gamma": 1.0}  # fmt: skip


def arousal(
    bands: Mapping[str, float], heart_bpm: float | None = None, breath_bpm: float | None = None
) -> float:
    """Arousal in [0, 1]: logistic of the weighted band balance, nudged by heart and breath.

    index = Σ w_b·share_b / Σ share_b with AROUSAL_WEIGHTS in [-1, 1]; arousal =
    logistic(4·(index + 0.25)), then + 0.15·tanh((hr - 65)/20) and + 0.1·tanh((br - 14)/6)
    and clipped. Non-decreasing in every fast share, heart and breath rate. No EEG (all
    shares zero) gives 0.5 before the nudges; missing or non-positive rates are ignored.
    """
    shares = {k: max(0.0, float(bands.get(k, 0.0))) for k in AROUSAL_WEIGHTS}
    shares = {k: v if math.isfinite(v) else 0.0 for k, v in shares.items()}
    total = sum(shares.values())
    if total > 0:
        index = sum(AROUSAL_WEIGHTS[k] * v for k, v in shares.items()) / total
        value = 1.0 / (1.0 + math.exp(-4.0 * (index + 0.25)))
    else:
        value = 0.5
    if heart_bpm is not None and math.isfinite(heart_bpm) and heart_bpm > 0:
        value += 0.15 * math.tanh((heart_bpm - 65.0) / 20.0)
    if breath_bpm is not None and math.isfinite(breath_bpm) and breath_bpm > 0:
        value += 0.10 * math.tanh((breath_bpm - 14.0) / 6.0)
    return min(1.0, max(0.0, value))


def sleep_stage(bands: Mapping[str, float]) -> str:
    """A coarse stage guess from one EEG channel's band shares; "" when there are none.

    Wake when fast activity is strong, N3 when slow waves dominate, N2 with spindle-band
    power, N1 with theta; REM cannot be told from one EEG channel (it needs eye and chin
    channels) and is never returned. Right on most 4-s windows of the YASA N2/N3 clips
    and BioSPPy eyes-closed; blinks in eyes-open EEG read as sleep. A visual driver,
    not a scorer.
    """
    b = {k: float(bands.get(k, 0.0)) for k in BANDS}
    if not sum(b.values()) > 0:
        return ""
    if b["beta"] + b["gamma"] >= 0.2 or b["alpha"] >= 0.15:
        return "W"
    if b["delta"] >= 0.8:
        return "N3"
    if b["sigma"] < 0.04 and b["theta"] >= 0.15:
        return "N1"
    return "N2"


def resonance(phases: np.ndarray | list[float]) -> float:
    """Kuramoto order parameter |mean(exp(iφ))| of the group's breath phases; empty -> 0."""
    p = np.asarray(phases, dtype=np.float64).ravel()
    p = p[np.isfinite(p)]
    if p.size == 0:
        return 0.0
    return float(min(1.0, abs(np.exp(1j * p).mean())))


def beat_pulse(seconds_since_beat: float, decay_s: float = BEAT_DECAY_S) -> float:
    """1 at a beat, decaying exponentially; 0 for a negative or non-finite time."""
    if not (math.isfinite(seconds_since_beat) and seconds_since_beat >= 0):
        return 0.0
    return math.exp(-seconds_since_beat / decay_s)


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """One dreamer's features at one moment; the defaults mean "not measured"."""

    delta: float = 0.0
    theta: float = 0.0
    alpha: float = 0.0
    sigma: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    heart_bpm: float = 0.0
    beat: float = 0.0  # 1 at the last detected beat, decaying with BEAT_DECAY_S
    breath_phase: float = 0.0  # radians, 0 = start of inhalation
    breath_rate: float = 0.0  # breaths a minute
    breath_amp: float = 0.0
    arousal: float = 0.5
    quality: float = 0.0  # mean quality of the signals given (0 when none)
    stage: str = ""  # coarse guess from the EEG (see sleep_stage); "" without EEG
    last_beat_age: float | None = None  # seconds from the last beat to the window's end

    def as_dict(self) -> dict[str, float]:
        """The numeric features (not stage, not last_beat_age), for params and logs."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if f.type == "float"}

    @property
    def bands(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in BANDS}

    def advanced(self, dt: float) -> FeatureSet:
        """These features `dt` seconds on without new samples: the breath phase runs on at
        the breath rate and the beat pulse decays. Lets a frame loop refresh a dreamer's
        full features less often than it draws (a full refresh costs ~1.5 ms)."""
        if not (dt > 0 and math.isfinite(dt)):
            return self
        phase = (self.breath_phase + 2 * math.pi * self.breath_rate / 60.0 * dt) % (2 * math.pi)
        return replace(self, breath_phase=phase, beat=self.beat * math.exp(-dt / BEAT_DECAY_S))


def compute_features(
    eeg: np.ndarray | None = None,
    eeg_fs: float = 0.0,
    ecg: np.ndarray | None = None,
    ecg_fs: float = 0.0,
    resp: np.ndarray | None = None,
    resp_fs: float = 0.0,
    *,
    ppg: np.ndarray | None = None,
    ppg_fs: float = 0.0,
    eeg_bands: Mapping[str, float] | None = None,
) -> FeatureSet:
    """All features from the latest windows; a missing, short or flat signal keeps defaults.

    Never raises on short, flat or gappy data. `beat` is timed from the last detected beat
    to the window's last sample. The PPG, when given, supplies the heart rate if the ECG
    is absent or worse. `quality` averages the qualities of the signals given.
    `eeg_bands`, when given, are the band shares of several channels combined
    (see combine_bands), used instead of the shares of `eeg`.
    """
    values: dict[str, Any] = {}
    qualities: list[float] = []
    if eeg is not None or eeg_bands is not None:
        # several electrodes: the shares were computed per channel and combined already
        if eeg_bands is not None:
            shares = dict(eeg_bands)
        else:
            assert eeg is not None
            shares = band_powers(eeg, eeg_fs)
        values.update(shares)
        qualities.append(1.0 if sum(shares.values()) > 0 else 0.0)
        values["stage"] = sleep_stage(shares)
    heart = HeartEstimate()
    n_heart, heart_fs = 0, 1.0
    for sig, fs, detect in ((ecg, ecg_fs, heart_rate_ecg), (ppg, ppg_fs, heart_rate_ppg)):
        if sig is not None and fs > 0:
            est = detect(sig, fs)
            if est.quality > heart.quality or (heart.quality == 0 and not n_heart):
                heart, n_heart, heart_fs = est, int(np.size(sig)), fs
    if n_heart:
        qualities.append(heart.quality)
        if heart.bpm > 0:
            values["heart_bpm"] = heart.bpm
            age = (n_heart - 1 - int(heart.beats[-1])) / heart_fs
            values.update(beat=beat_pulse(age), last_beat_age=age)
    if resp is not None:
        br = breath(resp, resp_fs, with_phases=False)
        qualities.append(br.quality)
        if br.quality > 0:
            values.update(breath_phase=br.phase, breath_rate=br.rate_bpm, breath_amp=br.amplitude)
    values["arousal"] = arousal(
        {k: values.get(k, 0.0) for k in BANDS},
        values.get("heart_bpm"),
        values.get("breath_rate"),
    )
    values["quality"] = float(np.mean(qualities)) if qualities else 0.0
    return FeatureSet(**values)


def combine_bands(
    channels: Sequence[np.ndarray], fs: float, how: str = "mean"
) -> dict[str, float] | None:
    """Band shares computed per channel, then combined ("mean" or "median") and made to
    sum to 1: each electrode weighs the same whatever its amplitude. Channels whose
    window cannot be trusted (flat, saturated, not finite) are left out; None if all are."""
    good = [band_powers(x, fs) for x in channels if signal_problem(x) is None]
    good = [g for g in good if sum(g.values()) > 0]
    if not good:
        return None
    table = np.array([[g[b] for b in BANDS] for g in good])
    joined = np.median(table, axis=0) if how == "median" else table.mean(axis=0)
    total = float(joined.sum())
    return {b: float(v / total) for b, v in zip(BANDS, joined, strict=True)} if total > 0 else None


def signal_problem(x: np.ndarray | None, *, flat_below: float = 0.5) -> str | None:
    """Why a window cannot be trusted: "missing", "not finite", "flat" (an electrode off
    or a dead channel: peak-to-peak under `flat_below` in the signal's units) or
    "saturated" (more than 5% of samples stuck at the extremes); None when it looks real."""
    if x is None or len(x) < 2:
        return "missing"
    if not np.all(np.isfinite(x)):
        return "not finite"
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi - lo < flat_below:
        return "flat"
    stuck = np.count_nonzero(x <= lo) + np.count_nonzero(x >= hi)
    if stuck > 0.05 * len(x):
        return "saturated"
    return None
