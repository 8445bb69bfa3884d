"""Breath from a respiration belt, airflow or a derived signal: rate, phase, depth."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from engine.features.dsp import BREATH_BAND, MIN_BREATH_S, clean, filtered, spread


@dataclass(frozen=True, slots=True, eq=False)
class BreathEstimate:
    rate_bpm: float = 0.0  # breaths a minute
    phase: float = 0.0  # radians in [0, 2π) at the last sample; 0 = start of inhalation
    amplitude: float = 0.0  # depth of the current breath: 0.5 = typical, clipped to 0..1
    phases: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per sample
    quality: float = 0.0  # 0..1: variance share in the breathing band x cycle regularity


def _despike(a: np.ndarray, fs: float) -> tuple[np.ndarray, float, int]:
    """Block medians down to ~16 Hz (blocks end at the last sample), then a 5-point median.

    Breathing needs no more than that, the filters get cheaper, and impedance and belt
    signals carry sample-wide spikes that a band-pass would smear into fake breaths.
    """
    q = max(1, int(fs // 16))
    n = len(a) // q * q
    d = np.sort(a[len(a) - n :].reshape(-1, q), axis=1)[:, q // 2] if q > 1 else a
    if len(d) >= 5:  # 5-point running median, edges held
        padded = np.concatenate((d[:1], d[:1], d, d[-1:], d[-1:]))
        d = np.sort(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)[:, 2]
    return d, fs / q, q


@functools.lru_cache(maxsize=64)
def _hilbert_gain(n: int) -> np.ndarray:
    """Spectral weights that turn an FFT into the analytic signal's (as scipy's hilbert)."""
    h = np.zeros(n)
    h[0] = 1.0
    h[1 : (n + 1) // 2] = 2.0
    if n % 2 == 0:
        h[n // 2] = 1.0
    return h


def _detrended_var(d: np.ndarray) -> float:
    """Variance left after removing the least-squares line."""
    t = np.arange(len(d)) - (len(d) - 1) / 2
    dc = d - d.mean()
    return max(0.0, float(dc @ dc - (t @ dc) ** 2 / (t @ t)) / len(d))


def _end_sinusoid(d: np.ndarray, fs: float, freq: float) -> tuple[float, float]:
    """(phase, amplitude) at the last sample of a sinusoid at `freq` fitted to the last cycle.

    A least-squares fit (with offset and slope) on the last period uses only past samples:
    the Hilbert phase at a window's edge depends on how the filters pad it and was about
    3x worse against the phase seen later with the sample mid-window (MIMIC 03700181).
    """
    n = min(len(d), max(4, round(fs / freq)))
    t = np.arange(1 - n, 1) / fs
    w = 2 * np.pi * freq
    basis = np.stack([np.cos(w * t), np.sin(w * t), np.ones(n), t], axis=1)
    c, s, _, _ = np.linalg.solve(basis.T @ basis, basis.T @ d[-n:])
    return float(-np.arctan2(s, c)), float(np.hypot(c, s))  # c cos + s sin = R cos(wt - φ)


def _spectral_peak(y: np.ndarray, fs: float) -> float:
    """Dominant frequency in BREATH_BAND of a zero-padded spectrum, parabolically refined."""
    nfft = 1 << max(len(y) - 1, round(120 * fs)).bit_length()  # bins of <= 1/120 Hz
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), nfft)) ** 2
    df = fs / nfft
    lo, hi = math.ceil(BREATH_BAND[0] / df), math.floor(min(BREATH_BAND[1], fs / 2) / df)
    k = lo + int(np.argmax(spec[lo:hi]))
    l0, l1, l2 = np.log(spec[k - 1 : k + 2] + 1e-300)
    curvature = l0 - 2 * l1 + l2
    return (k + (0.5 * (l0 - l2) / curvature if curvature < 0 else 0.0)) * df


def breath(x: np.ndarray, fs: float, with_phases: bool = True) -> BreathEstimate:
    """Respiration rate, phase and depth; assumes the signal rises on inhalation.

    The signal is despiked and band-passed (BREATH_BAND). Rate: cycles counted between
    successive peaks and between successive troughs (prominence >= 30% of the swing), the
    spectral peak when the window holds fewer than two; a mode-seeking spectrum alone
    mistakes irregular breathing and square-ish belt waveforms (harmonics) for other rates.
    Phases are the Hilbert phase shifted by π: a trough (start of inhalation) is 0, the
    peak (end of inhalation) is π. `phases` is acausal, best away from the window's ends;
    `phase`, the live value, comes from a sinusoid fitted to the last cycle. `amplitude`
    is that cycle's depth against the window's typical one (0.5 = typical). Without
    `with_phases` the per-sample phases are skipped (empty): the frame loop needs none.
    """
    a = clean(x)
    if fs <= 0 or len(a) < MIN_BREATH_S * fs:
        return BreathEstimate()
    d, fsd, q = _despike(a, fs)
    y = filtered(d - d.mean(), fsd, *BREATH_BAND, order=2)
    if y is None:
        return BreathEstimate()
    var_y, var_d = float(np.var(y)), _detrended_var(d)
    if not (var_d > 0 and var_y > 1e-12 * var_d):
        return BreathEstimate(phases=np.zeros(len(a) if with_phases else 0))
    opts = {"distance": max(1, round(fsd / BREATH_BAND[1])), "prominence": 0.3 * spread(y)}
    intervals = [np.diff(find_peaks(sign * y, **opts)[0]) for sign in (1.0, -1.0)]
    iv = np.concatenate(intervals) / fsd
    if len(iv):
        freq = len(iv) / float(iv.sum())
        regularity = max(0.0, 1.0 - float(np.std(iv) / np.mean(iv)))
    else:
        freq, regularity = _spectral_peak(y, fsd), 0.5
    phase, depth = _end_sinusoid(d, fsd, freq)
    phases = np.zeros(0)
    if with_phases:
        analytic = np.fft.ifft(np.fft.fft(y) * _hilbert_gain(len(y)))  # as scipy's hilbert
        # Back to the input's samples: each block median stands for its block's centre.
        t_dec = len(a) - (len(d) - np.arange(len(d))) * q + (q - 1) / 2
        phases = np.interp(np.arange(len(a)), t_dec, np.unwrap(np.angle(analytic)))
        phases = np.mod(phases + np.pi, 2 * np.pi)
    return BreathEstimate(
        rate_bpm=60.0 * freq,
        phase=float(np.mod(phase + np.pi, 2 * np.pi)) % (2 * np.pi),
        # Typical depth, from the same despiked signal as `depth` (the band-pass would
        # attenuate slow breaths): a sinusoid's amplitude is sqrt(2) x its deviation.
        amplitude=float(np.clip(depth / (2.0 * math.sqrt(2.0 * var_d)), 0.0, 1.0)),
        phases=phases,
        quality=min(1.0, var_y / var_d) * regularity,
    )
