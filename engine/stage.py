"""Sleep stage per dreamer: a rule-based scorer of 30-s epochs after the AASM manual.

No training data here, so no learned model: each epoch gets the measurable evidence the
AASM Manual (v2.6) scores from, in one EEG derivation (microvolts assumed) and an
optional EOG, and a fixed rule order:

1. **W** when the EEG is alpha-dominant (alpha/theta power >= 1.5: the AASM's alpha
   over half the epoch, eyes closed) or fast (beta+gamma >= 30% of the 4-45 Hz power:
   eyes open, muscle). Checked before N3 because blinks, movement and electrode drift in
   wake fill the slow-wave band with large waves.
2. **N3** when slow waves (0.5-2 Hz, >= 75 uV peak to peak) fill >= 20% of the epoch
   (the AASM rule), or, for low-gain recordings, when delta holds >= 80% of the power
   and spindles are rare (< 4/min; a relative stand-in for low-gain recordings: the
   YASA N3 example's slow waves stay under 75 uV, and its N2 example has delta 87%).
3. **N2** when there is a sleep spindle (11-16 Hz burst 0.5-2 s long, sigma >= 20% of
   the 1-30 Hz power while it lasts; after Lacourse et al. 2019 / YASA) or a K-complex
   (an isolated slow wave >= 75 uV).
4. **REM** when there are rapid eye movements: in the EOG when given (deflections
   >= 50 uV rising in < 0.5 s; with LOC and ROC, their anti-phase difference), else
   eye-movement leakage and sawtooth waves in the EEG itself (weaker evidence).
5. **N1** otherwise: low-amplitude mixed frequency without spindles or K-complexes.

Confidence (0..1) is how far the deciding evidence is past its threshold, lowered
when the next rule down nearly fired too. Scoring one 30-s epoch costs a few ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy.signal import find_peaks

from engine.features.dsp import band_powers, clean, filtered, welch_bands

STAGES = ("W", "N1", "N2", "N3", "REM")
EPOCH_S = 30.0
SW_UV = 75.0  # slow-wave peak-to-peak amplitude (AASM)
REM_UV = 50.0  # rapid eye movement amplitude (YASA's default lower bound)


@dataclass(frozen=True, slots=True)
class StageEpoch:
    stage: str  # one of STAGES
    confidence: float  # 0..1
    features: dict[str, float] = field(default_factory=dict)
    start: float = 0.0  # seconds from the first sample pushed
    duration: float = EPOCH_S


def _moving_rms(x: np.ndarray, n: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    n = max(1, min(n, len(x)))
    out = np.empty(len(x))
    half = n // 2
    lo = np.clip(np.arange(len(x)) - half, 0, len(x) - n)
    out[:] = (c[lo + n] - c[lo]) / n
    return np.sqrt(out)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def spindles(x: np.ndarray, fs: float) -> int:
    """Count of sleep spindles: 0.5-2 s runs where the 11-16 Hz moving RMS (0.3 s) holds
    >= 20% of the 1-30 Hz power and exceeds its own mean + 1.5 sd over the window."""
    sig, broad = filtered(x, fs, 11.0, 16.0, 3), filtered(x, fs, 1.0, 30.0, 3)
    if sig is None or broad is None:
        return 0
    w = round(0.3 * fs)
    rs, rb = _moving_rms(sig, w), _moving_rms(broad, w)
    rel = rs**2 / np.maximum(rb**2, 1e-12)
    lo, hi = np.percentile(rs, [10, 90])
    core = rs[(rs >= lo) & (rs <= hi)]  # trimmed: many spindles must not raise the bar
    thresh = core.mean() + 1.5 * core.std()
    n = 0
    for a, b in _runs((rel >= 0.2) & (rs >= thresh)):
        if 0.5 * fs <= b - a <= 2.0 * fs:
            n += 1
    return n


def slow_waves(x: np.ndarray, fs: float) -> tuple[float, int, float]:
    """(fraction of the window in slow waves >= 75 uV p-p, isolated ones (K-complex-like),
    median p-p of all 0.5-2 Hz waves). A wave runs from a downward zero crossing of the
    0.5-2 Hz signal over its trough and peak to the next downward crossing."""
    y = filtered(x, fs, 0.5, 2.0, 2)
    if y is None:
        return 0.0, 0, 0.0
    down = np.flatnonzero((y[:-1] >= 0) & (y[1:] < 0))
    waves = [(a, b, float(np.ptp(y[a:b]))) for a, b in pairwise(down)]
    waves = [w for w in waves if 0.5 * fs <= w[1] - w[0] <= 2.5 * fs]
    big = [w[2] >= SW_UV for w in waves]
    frac = sum(w[1] - w[0] for w, g in zip(waves, big, strict=True) if g) / len(x)
    iso = sum(
        1
        for i, g in enumerate(big)
        if g and not (i > 0 and big[i - 1]) and not (i + 1 < len(big) and big[i + 1])
    )
    med = float(np.median([w[2] for w in waves])) if waves else 0.0
    return float(frac), iso, med


def eye_movements(x: np.ndarray, fs: float, min_uv: float = REM_UV) -> int:
    """Rapid eye movements: peaks of |0.5-5 Hz signal| >= min_uv that rise from the
    preceding opposite excursion (or baseline) in < 0.5 s, at least 0.3 s apart."""
    y = filtered(x, fs, 0.5, 5.0, 2)
    if y is None:
        return 0
    n = 0
    for sign in (1.0, -1.0):
        peaks, _ = find_peaks(sign * y, height=min_uv, distance=max(1, round(0.3 * fs)))
        for p in peaks:
            seg = sign * y[max(0, p - round(0.5 * fs)) : p + 1]
            if seg[-1] - seg.min() >= min_uv:  # the deflection happened within 0.5 s
                n += 1
    return n


def sawtooth(x: np.ndarray, fs: float) -> float:
    """Share of the window in 2-6 Hz bursts (sawtooth-wave trains of REM): 1-s runs where
    the 2-6 Hz RMS is >= 60% of the 1-30 Hz RMS."""
    st, broad = filtered(x, fs, 2.0, 6.0, 2), filtered(x, fs, 1.0, 30.0, 2)
    if st is None or broad is None:
        return 0.0
    w = round(1.0 * fs)
    ratio = _moving_rms(st, w) / np.maximum(_moving_rms(broad, w), 1e-12)
    return float(sum(b - a for a, b in _runs(ratio >= 0.6) if b - a >= fs) / len(x))


def _margin(value: float, thresh: float, scale: float) -> float:
    """0.5 at the threshold, toward 1 as value passes it by `scale`."""
    return 1.0 / (1.0 + math.exp(-(value - thresh) / scale))


def epoch_features(eeg: np.ndarray, fs: float, eog: np.ndarray | None = None) -> dict[str, float]:
    x = clean(eeg)
    f: dict[str, float] = dict(band_powers(x, fs))
    nperseg = min(len(x), round(2.0 * fs)) if len(x) >= 8 else 0
    bands = welch_bands(x, fs, nperseg) if nperseg else np.zeros(6)  # absolute, uV^2
    delta, theta, alpha, _sigma, beta, gamma = (float(b) for b in bands)
    above4 = float(bands[1:].sum())
    minutes = len(x) / fs / 60.0 if fs > 0 else 0.0
    f["alpha_theta"] = alpha / theta if theta > 0 else 0.0
    f["fast"] = (beta + gamma) / above4 if above4 > 0 else 0.0
    sw_frac, kcs, sw_pp = slow_waves(x, fs) if minutes else (0.0, 0, 0.0)
    n_sp = spindles(x, fs) if minutes else 0
    f.update(slow_wave_frac=sw_frac, k_complexes=float(kcs), slow_wave_pp=sw_pp)
    f["spindles"] = float(n_sp)
    f["spindle_density"] = n_sp / minutes if minutes else 0.0
    f["rms_uv"] = float(x.std()) if len(x) else 0.0
    f["delta_abs"] = delta
    if eog is not None:
        e = np.atleast_2d(np.asarray(eog, dtype=np.float64))
        # LOC and ROC move in anti-phase in eye movements: their half-difference keeps
        # the movement and cancels the EEG both pick up.
        y = clean(0.5 * (e[0] - e[1]) if len(e) >= 2 else e[0])
        f["rem_density"] = eye_movements(y, fs) / minutes if minutes else 0.0
        f["eog"] = 1.0
    else:
        f["rem_density"] = eye_movements(x, fs, min_uv=30.0) / minutes if minutes else 0.0
        f["eog"] = 0.0
    f["sawtooth_frac"] = sawtooth(x, fs) if minutes else 0.0
    return f


def classify(f: dict[str, float]) -> tuple[str, float]:
    """Stage and confidence from epoch_features (the rule order of the module doc)."""
    if f.get("rms_uv", 0.0) <= 0:
        return "W", 0.0  # no signal: nothing to score
    wake = max(_margin(f["alpha_theta"], 1.5, 0.3), _margin(f["fast"], 0.30, 0.05))
    if wake >= 0.5:
        return "W", wake
    sw = _margin(f["slow_wave_frac"], 0.20, 0.05)
    rel_n3 = _margin(f["delta"], 0.80, 0.03) if f["spindle_density"] < 4.0 else 0.0
    n3 = max(sw, rel_n3)
    if n3 >= 0.5:
        return "N3", n3 * (1 - 0.5 * wake)
    n2_ev = f["spindles"] + f["k_complexes"]
    if n2_ev >= 1:
        conf = _margin(f["spindle_density"] + 2 * f["k_complexes"] * 60 / EPOCH_S, 1.0, 1.0)
        return "N2", conf * (1 - 0.5 * n3)
    # REM: eye movements; in the EEG alone, leakage of many of them and sawtooth trains.
    if f["eog"]:
        rem = _margin(f["rem_density"], 2.0, 1.0)
    else:
        rem = 0.5 * _margin(f["rem_density"], 8.0, 3.0) + 0.5 * _margin(
            f["sawtooth_frac"], 0.1, 0.05
        )
    if rem >= 0.5:
        return "REM", rem
    return "N1", 1.0 - rem


def score_epoch(eeg: np.ndarray, fs: float, eog: np.ndarray | None = None) -> StageEpoch:
    """Score one epoch (30 s by convention; shorter epochs work, e.g. a 15-s clip).
    `eog`: one EOG channel, or two rows (LOC, ROC), sampled at `fs` like the EEG."""
    f = epoch_features(eeg, fs, eog)
    stage, conf = classify(f)
    return StageEpoch(stage, round(float(conf), 4), f, 0.0, len(np.ravel(eeg)) / fs)


class Stager:
    """Streams one dreamer's EEG (and optional EOG) into 30-s epochs and scores each.

    Adds the AASM continuation rule to score_epoch: an epoch that alone reads N1 after
    an N2 or REM epoch continues that stage (at lower confidence).
    `push` takes any chunk size and returns the epochs completed so far (all of them,
    oldest first), so a frame loop can read `push(...)[-1]` for the latest stage.
    """

    def __init__(self, epoch: float = EPOCH_S) -> None:
        if not epoch > 0:
            raise ValueError("epoch must be positive seconds")
        self.epoch = float(epoch)
        self.epochs: list[StageEpoch] = []
        self._eeg: list[np.ndarray] = []
        self._eog: list[np.ndarray] = []
        self._n = 0
        self._fs: float | None = None

    def push(self, eeg: np.ndarray, fs: float, eog: np.ndarray | None = None) -> list[StageEpoch]:
        if self._fs is None:
            self._fs = float(fs)
        elif float(fs) != self._fs:
            raise ValueError(f"EEG rate changed from {self._fs} to {fs} Hz")
        x = np.asarray(eeg, dtype=np.float64).ravel()
        self._eeg.append(x)
        if eog is not None:
            self._eog.append(np.atleast_2d(np.asarray(eog, dtype=np.float64)))
        self._n += len(x)
        size = round(self.epoch * self._fs)
        while self._n >= size:
            buf = np.concatenate(self._eeg)
            ebuf = np.concatenate(self._eog, axis=1) if self._eog else None
            ep = score_epoch(buf[:size], self._fs, ebuf[:, :size] if ebuf is not None else None)
            prev = self.epochs[-1] if self.epochs else None
            if ep.stage == "N1" and prev is not None and prev.stage in ("N2", "REM"):
                # AASM continuation: N2 and REM go on through epochs without their
                # events (tonic REM, spindle-free N2) until something else shows up.
                ep = StageEpoch(prev.stage, round(0.5 * prev.confidence + 0.25, 4), ep.features)
            start = len(self.epochs) * self.epoch
            self.epochs.append(StageEpoch(ep.stage, ep.confidence, ep.features, start, self.epoch))
            self._eeg, self._n = [buf[size:]], len(buf) - size
            self._eog = [ebuf[:, size:]] if ebuf is not None else []
        return list(self.epochs)
