"""Heart rate from ECG (R peaks) or PPG (pulse upstrokes)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import find_peaks

from engine.features.dsp import HR_RANGE, MIN_HEART_S, NO_SAMPLES, clean, filtered, median, spread


@dataclass(frozen=True, slots=True, eq=False)  # arrays inside: compare fields, not objects
class HeartEstimate:
    bpm: float = 0.0  # 0.0 when no rate could be measured
    beats: np.ndarray = field(default_factory=lambda: NO_SAMPLES)  # sample indices
    quality: float = 0.0  # 0..1: enough beats, regular intervals


def _from_beats(beats: np.ndarray, fs: float, average: bool = False) -> HeartEstimate:
    """Rate from plausible beat intervals; quality = share of intervals near the median.

    The rate is 60 / the median interval, or with `average` 60 / the mean of the
    intervals within 20% of it: that averages out peak-timing jitter (blunt PPG pulses)
    while missed, extra and ectopic beats still fall outside.
    """
    if len(beats) < 2:
        return HeartEstimate(0.0, beats, 0.0)
    rr = np.diff(beats) / fs
    good = rr[(rr >= 60.0 / HR_RANGE[1]) & (rr <= 60.0 / HR_RANGE[0])]
    if len(good) == 0:
        return HeartEstimate(0.0, beats, 0.0)
    med = median(good)
    near = good[np.abs(good - med) <= 0.2 * med]
    quality = len(near) / len(rr) * min(1.0, len(good) / 4.0)  # few intervals: less sure
    # (An even count's median may have no interval near it: [0.3, 1.5] -> 0.9.)
    center = float(np.mean(near)) if average and len(near) else med
    return HeartEstimate(60.0 / center, beats, quality)


def heart_rate_ecg(x: np.ndarray, fs: float) -> HeartEstimate:
    """R peaks by a Pan-Tompkins-style envelope; either ECG polarity works."""
    a = clean(x)
    if fs <= 0 or len(a) < MIN_HEART_S * fs:
        return HeartEstimate()
    bp = filtered(a, fs, 8.0, 20.0, order=3)  # QRS energy lives here; drift and T waves don't
    if bp is None:
        return HeartEstimate()
    d = np.diff(bp, prepend=bp[0])
    win = max(1, round(0.12 * fs))  # about one QRS width
    env = np.convolve(d * d, np.full(win, 1.0 / win), mode="same")
    refractory = max(1, round(0.25 * fs))
    cand, _ = find_peaks(env, distance=refractory)
    if len(cand) == 0 or env[cand].max() <= 0:
        return HeartEstimate()
    # Adaptive height: 30% of a local reference, the second-tallest candidate within
    # ±2.5 s. Local, so an artefact burst in one part of the window does not raise the bar
    # over clean beats elsewhere; second-tallest, so one artefact or ectopic beat cannot.
    heights = env[cand]
    span = round(2.5 * fs)
    lo = np.searchsorted(cand, cand - span)
    hi = np.searchsorted(cand, cand + span, side="right")
    nbr = lo[:, None] + np.arange(int((hi - lo).max()))  # candidates are >= 0.25 s apart
    local = np.where(nbr < hi[:, None], heights[np.minimum(nbr, len(cand) - 1)], 0.0)
    local.sort(axis=1)
    ref = local[:, -2] if local.shape[1] > 1 else local[:, -1]
    ref = np.where(hi - lo > 1, ref, local[:, -1])
    peaks = cand[heights >= 0.3 * ref]
    # Move each detection to the R wave: the larger deflection, judged once per window so
    # beats do not flip between R and S.
    half = max(1, round(0.08 * fs))
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1), 0, len(bp) - 1)
    seg = bp[idx]
    sign = 1.0 if median(seg.max(axis=1)) >= median(-seg.min(axis=1)) else -1.0
    beats = np.unique(idx[np.arange(len(idx)), np.argmax(sign * seg, axis=1)])
    if len(beats) > 1:  # two detections refined onto one R wave count once
        beats = beats[np.concatenate(([True], np.diff(beats) >= refractory))]
    return _from_beats(beats.astype(np.int64), fs)


def heart_rate_ppg(x: np.ndarray, fs: float) -> HeartEstimate:
    """Systolic peaks of a pulse wave (PPG/pleth); the signal rises with blood volume.

    `beats` are the peaks; the rate is timed on the steepest upstroke before each peak,
    which is sharp where peaks are blunt or clipped (v102s): about 2x closer to the ECG.
    """
    a = clean(x)
    if fs <= 0 or len(a) < MIN_HEART_S * fs:
        return HeartEstimate()
    bp = filtered(a, fs, 0.5, 8.0, order=2)
    if bp is None:
        return HeartEstimate()
    swing = spread(bp)
    if not swing > 0:
        return HeartEstimate()
    # Prominence relative to the pulse swing rejects the dicrotic wave.
    peaks, _ = find_peaks(bp, distance=max(1, round(0.27 * fs)), prominence=0.3 * swing)
    if len(peaks) < 2:
        return HeartEstimate(0.0, peaks.astype(np.int64), 0.0)
    slope = np.diff(bp, prepend=bp[0])
    idx = np.clip(peaks[:, None] - np.arange(round(0.25 * fs), -1, -1), 0, len(bp) - 1)
    upstrokes = idx[np.arange(len(idx)), np.argmax(slope[idx], axis=1)]
    return replace(_from_beats(upstrokes, fs, average=True), beats=peaks.astype(np.int64))
