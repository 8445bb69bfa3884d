"""The signal basics features are made of: EEG bands, cached band-pass filters, cheap
medians and spreads, cleaning of missing samples, and Welch band powers."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.signal import butter, get_window, lfilter, sosfilt_zi

BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 12.0),
    "sigma": (12.0, 15.0),
    "beta": (15.0, 30.0),
    "gamma": (30.0, 45.0),
}
HR_RANGE = (30.0, 220.0)  # plausible heart rates, bpm
BREATH_BAND = (0.07, 0.7)  # Hz: 4.2 to 42 breaths a minute (slow "resonance" breathing is ~6)
BEAT_DECAY_S = 0.15  # time constant of the beat pulse
MIN_EEG_S, MIN_HEART_S, MIN_BREATH_S = 1.0, 2.0, 6.0
NO_SAMPLES = np.zeros(0, dtype=np.int64)


Sections = tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


@functools.lru_cache(maxsize=256)
def _bandpass(fs: float, lo: float, hi: float, order: int) -> Sections | None:
    """Butterworth band-pass as second-order sections (stable at low cut-offs), each as
    (b, a, step-response initial state); None if fs cannot carry the band. Cached: the
    design and the initial state cost more than filtering a window.
    """
    hi = min(hi, 0.45 * fs)  # keep clear of Nyquist, where the design degenerates
    if fs <= 0 or not 0 < lo < hi:
        return None
    sos = butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    zi = sosfilt_zi(sos)
    return tuple((row[:3].copy(), row[3:].copy(), z) for row, z in zip(sos, zi, strict=True))


def _cascade(sections: Sections, x: np.ndarray) -> np.ndarray:
    # Section by section with lfilter is exactly sosfilt, without the ~85 us its wrapper
    # spends on checks per call on this machine (a window's filtering costs ~10 us).
    x0 = x[0]
    for b, a, z in sections:
        x, _ = lfilter(b, a, x, zi=z * x0)
    return x


def filtered(x: np.ndarray, fs: float, lo: float, hi: float, order: int = 2) -> np.ndarray | None:
    """Zero-phase band-pass (peaks stay in place): the same numbers as scipy's sosfiltfilt
    with its default odd padding, at a fraction of the cost."""
    sections = _bandpass(float(fs), lo, hi, order)
    if sections is None:
        return None
    pad = 3 * (2 * len(sections) + 1)
    if len(x) <= pad:
        return None
    ext = np.concatenate((2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2 : -pad - 2 : -1]))
    y = _cascade(sections, _cascade(sections, ext)[::-1])
    return y[-pad - 1 : pad - 1 : -1]


# np.median and np.percentile cost ~10x a partition on these short arrays (axis handling,
# NaN checks); the frame loop calls this hundreds of times a second.
def median(y: np.ndarray) -> float:
    k = len(y) // 2
    if len(y) % 2:
        return float(np.partition(y, k)[k])
    return float(np.partition(y, (k - 1, k))[k - 1 : k + 1].mean())


def spread(y: np.ndarray) -> float:
    """5th to 95th percentile range."""
    k = (len(y) - 1) * np.array([5, 95]) // 100
    lo, hi = np.partition(y, k)[k]
    return float(hi - lo)


def clean(x: np.ndarray | None) -> np.ndarray:
    """1-D float64 with non-finite samples linearly interpolated (all bad -> empty)."""
    if x is None:
        return np.zeros(0)
    a = np.asarray(x, dtype=np.float64).ravel()
    ok = np.isfinite(a)
    if ok.all():
        return a
    if not ok.any():
        return np.zeros(0)
    idx = np.arange(len(a))
    return np.interp(idx, idx[ok], a[ok])


@functools.lru_cache(maxsize=64)
def _welch_plan(fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Hann window and a matrix summing Welch bins into bands ([lo, hi), clipped to Nyquist),
    with scipy.signal.welch's density scaling folded in."""
    window = get_window("hann", nperseg)
    scale = np.full(nperseg // 2 + 1, 2.0)
    scale[0] = 1.0
    if nperseg % 2 == 0:
        scale[-1] = 1.0  # one-sided: DC and Nyquist are not doubled
    f = np.fft.rfftfreq(nperseg, 1.0 / fs)
    bands = np.array([(f >= lo) & (f < hi) for lo, hi in BANDS.values()], dtype=np.float64)
    return window, bands * scale / (fs * float(window @ window))


def welch_bands(x: np.ndarray, fs: float, nperseg: int) -> np.ndarray:
    """Absolute power per band (V²) from a Welch PSD; the same numbers as integrating
    scipy.signal.welch(x, fs, nperseg=nperseg) bin by bin, at a fifth of its cost."""
    window, matrix = _welch_plan(float(fs), nperseg)
    step = nperseg - nperseg // 2
    frames = np.lib.stride_tricks.sliding_window_view(x, nperseg)[::step]
    frames = frames - frames.mean(axis=1, keepdims=True)  # detrend="constant"
    psd = (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).mean(axis=0)
    return matrix @ psd


def band_powers(x: np.ndarray, fs: float) -> dict[str, float]:
    """Relative power per band in BANDS (sums to 1 over 0.5-45 Hz).

    Welch PSD with 2-s Hann segments, half overlapping (0.5 Hz bins; the whole window
    when shorter), mean removed per segment. Flat, empty or too short input gives all
    zeros, never NaN: "no signal" stays distinguishable from "broadband".
    """
    a = clean(x)
    if fs <= 0 or len(a) < max(8, int(fs * 0.5)):
        return dict.fromkeys(BANDS, 0.0)
    power = welch_bands(a, fs, min(len(a), round(2.0 * fs)))
    total = float(power.sum())
    if not (total > 0 and math.isfinite(total)):
        return dict.fromkeys(BANDS, 0.0)
    return dict(zip(BANDS, (power / total).tolist(), strict=True))
