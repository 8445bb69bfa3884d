"""Features of one dreamer's signals: EEG band shares, heart, breath, arousal; group resonance.

Everything here is a pure function of a window of samples, cheap enough for the frame
loop (64 dreamers, ~10 times a second): filters are designed once per (rate, band) and
cached. Nothing returns NaN: missing, short or flat input gives zeros and quality 0,
and non-finite samples (WFDB marks invalid samples NaN) are interpolated over.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from scipy.signal import butter, find_peaks, get_window, lfilter, sosfilt_zi

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
_EMPTY = np.zeros(0, dtype=np.int64)


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


def _filter(x: np.ndarray, fs: float, lo: float, hi: float, order: int = 2) -> np.ndarray | None:
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
def _median(y: np.ndarray) -> float:
    k = len(y) // 2
    if len(y) % 2:
        return float(np.partition(y, k)[k])
    return float(np.partition(y, (k - 1, k))[k - 1 : k + 1].mean())


def _spread(y: np.ndarray) -> float:
    """5th to 95th percentile range."""
    k = (len(y) - 1) * np.array([5, 95]) // 100
    lo, hi = np.partition(y, k)[k]
    return float(hi - lo)


def _clean(x: np.ndarray | None) -> np.ndarray:
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
    a = _clean(x)
    if fs <= 0 or len(a) < max(8, int(fs * 0.5)):
        return dict.fromkeys(BANDS, 0.0)
    power = welch_bands(a, fs, min(len(a), round(2.0 * fs)))
    total = float(power.sum())
    if not (total > 0 and math.isfinite(total)):
        return dict.fromkeys(BANDS, 0.0)
    return dict(zip(BANDS, (power / total).tolist(), strict=True))


@dataclass(frozen=True, slots=True, eq=False)  # arrays inside: compare fields, not objects
class HeartEstimate:
    bpm: float = 0.0  # 0.0 when no rate could be measured
    beats: np.ndarray = field(default_factory=lambda: _EMPTY)  # sample indices
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
    med = _median(good)
    near = good[np.abs(good - med) <= 0.2 * med]
    quality = len(near) / len(rr) * min(1.0, len(good) / 4.0)  # few intervals: less sure
    # (An even count's median may have no interval near it: [0.3, 1.5] -> 0.9.)
    center = float(np.mean(near)) if average and len(near) else med
    return HeartEstimate(60.0 / center, beats, quality)


def heart_rate_ecg(x: np.ndarray, fs: float) -> HeartEstimate:
    """R peaks by a Pan-Tompkins-style envelope; either ECG polarity works."""
    a = _clean(x)
    if fs <= 0 or len(a) < MIN_HEART_S * fs:
        return HeartEstimate()
    bp = _filter(a, fs, 8.0, 20.0, order=3)  # QRS energy lives here; drift and T waves don't
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
    sign = 1.0 if _median(seg.max(axis=1)) >= _median(-seg.min(axis=1)) else -1.0
    beats = np.unique(idx[np.arange(len(idx)), np.argmax(sign * seg, axis=1)])
    if len(beats) > 1:  # two detections refined onto one R wave count once
        beats = beats[np.concatenate(([True], np.diff(beats) >= refractory))]
    return _from_beats(beats.astype(np.int64), fs)


def heart_rate_ppg(x: np.ndarray, fs: float) -> HeartEstimate:
    """Systolic peaks of a pulse wave (PPG/pleth); the signal rises with blood volume.

    `beats` are the peaks; the rate is timed on the steepest upstroke before each peak,
    which is sharp where peaks are blunt or clipped (v102s): about 2x closer to the ECG.
    """
    a = _clean(x)
    if fs <= 0 or len(a) < MIN_HEART_S * fs:
        return HeartEstimate()
    bp = _filter(a, fs, 0.5, 8.0, order=2)
    if bp is None:
        return HeartEstimate()
    swing = _spread(bp)
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
    a = _clean(x)
    if fs <= 0 or len(a) < MIN_BREATH_S * fs:
        return BreathEstimate()
    d, fsd, q = _despike(a, fs)
    y = _filter(d - d.mean(), fsd, *BREATH_BAND, order=2)
    if y is None:
        return BreathEstimate()
    var_y, var_d = float(np.var(y)), _detrended_var(d)
    if not (var_d > 0 and var_y > 1e-12 * var_d):
        return BreathEstimate(phases=np.zeros(len(a) if with_phases else 0))
    opts = {"distance": max(1, round(fsd / BREATH_BAND[1])), "prominence": 0.3 * _spread(y)}
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
