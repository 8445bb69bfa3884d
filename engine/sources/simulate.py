"""A simulated dreamer: a seeded, deterministic sleeper breathing, beating and dreaming.

EEG (uV, 256 Hz), ECG (mV, 256 Hz) and a respiration belt (about +-1, 32 Hz) follow a
:class:`Hypnogram`. Everything is generated in fixed blocks from one numpy Generator with
persistent filter and oscillator state, so the samples depend only on the seed and the
hypnogram, never on how :meth:`SimulatedDreamer.read` is called. The EEG is a single
central/occipital-like derivation: stage-weighted band-limited noise (filterbank.py) plus
discrete events (eeg_events.py).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right

import numpy as np
from scipy import signal

from engine.sources.eeg_events import ALPHA, KC, RANGES, SPINDLE, Event
from engine.sources.filterbank import FilterBank
from engine.sources.hypnogram import STAGE_INDEX, Hypnogram

RATES = {"eeg": 256.0, "ecg": 256.0, "resp": 32.0}
TAU = 2.0 * math.pi

# Per-stage parameters. EEG: rms (uV) of pink 1/f noise and of band-limited noise in
# delta 0.5-2, theta 4-7, alpha 8.5-11.5, sigma 12-15, beta 15-30 Hz.
# Amplitudes after the AASM Manual (v2.6) stage definitions and Niedermeyer's EEG
# (alpha 20-50 uV p-p in relaxed W; delta >75 uV p-p in N3; low-voltage mixed REM).
# HR: factor on the dreamer's N2 rate (NREM slows the heart ~5-10%, REM and W return to
# waking levels: Trinder et al. 2001), RSA: relative HR swing with breathing (stronger in
# NREM), BR: breath-rate factor. Then the sd of slow log wanders: HR drift (HRV), breath
# rate and depth (N3 most regular, REM most irregular: Douglas et al. 1982) and alpha
# waxing-waning. Events per minute: spindles (N2 every ~3-10 s, AASM; Purcell et al.
# 2017), K-complexes (1-3/min in N2), vertex sharp waves (N1), eye movements (REM; some
# in W), sawtooth-wave trains (REM) and alpha bursts (REM/N1).
#  pink delta theta alpha sigma beta | HR   RSA   BR  | HRV  BRsd BAsd alpha |
#  spindle KC vertex eye saw alpha
_TABLE = np.array(
    [
        (6, 6, 5, 18, 1.5, 5.0, 1.08, 0.04, 1.05, 0.06, 0.12, 0.15, 0.35, 0, 0, 0, 6, 0, 0),
        (6, 8, 10, 6, 1.5, 3.0, 1.04, 0.045, 1.0, 0.045, 0.10, 0.12, 0.35, 0.5, 0.2, 4, 2, 0, 1),
        (6, 15, 11, 4, 2.0, 2.5, 1.00, 0.05, 1.0, 0.03, 0.06, 0.08, 0.35, 10, 2, 0.5, 0, 0, 0),
        (6, 45, 12, 3, 1.5, 1.5, 0.96, 0.05, 0.97, 0.015, 0.03, 0.05, 0.35, 3, 1, 0, 0, 0, 0),
        (6, 8, 9, 4, 1.5, 4.0, 1.06, 0.04, 1.08, 0.08, 0.20, 0.25, 0.35, 0, 0, 0, 30, 3, 1),
    ]
)
_HR, _RSA, _BR, _SD, _EV = 6, 7, 8, 9, 13
_RMAX = _TABLE[:, _EV:].max(axis=0)  # thinning bound per event kind (/min)
# ECG as a sum of Gaussians over the beat phase, positions/widths (rad) from ECGSYN
# (McSharry et al. 2003, IEEE TBME 50:289); amplitudes (mV) for R ~1 mV: P Q R S T.
# Tabulated once over one beat (R at phase 0) and interpolated.
_ECG_GRID = np.linspace(0.0, TAU, 4097)
_ECG_WAVE = sum(
    a * np.exp(-0.5 * (((_ECG_GRID - th * math.pi + math.pi) % TAU - math.pi) / b) ** 2)
    for th, a, b in zip(
        (-1 / 3, -1 / 12, 0.0, 1 / 12, 1 / 2),
        (0.12, -0.12, 1.0, -0.22, 0.28),
        (0.25, 0.1, 0.1, 0.1, 0.4),
        strict=True,
    )
)
_INHALE = 0.4  # Ti/Ttot of quiet breathing and sleep ~0.4 (Tobin et al. 1983)
K_MAX = 1.5  # rad/s coupling at strength 1: locks the whole 8-16/min range to ~12/min
_OU_TAU = (8.0, 4.0, 4.0, 1.5)  # s: HR drift, breath rate, breath depth, alpha envelope


@functools.lru_cache(maxsize=8)
def _bank(n: int) -> FilterBank:
    """EEG bands and ECG baseline wander at 256 Hz, in blocks of n samples."""
    fs = RATES["eeg"]
    pink = (  # J. O. Smith's 1/f filter, then a 0.3 Hz high-pass as on EEG amplifiers
        [0.049922035, -0.095993537, 0.050612699, -0.004408786],
        [1.0, -2.494956002, 2.017265875, -0.522189400],
    )
    hb, ha = signal.butter(1, 0.3, "highpass", fs=fs)
    filters = [(np.convolve(pink[0], hb), np.convolve(pink[1], ha))]
    for band in ((0.5, 2.0), (4.0, 7.0), (8.5, 11.5), (12.0, 15.0), (15.0, 30.0)):
        filters.append(signal.butter(2, band, "bandpass", fs=fs))
    filters.append(signal.butter(1, 0.5, "lowpass", fs=fs))  # ECG baseline wander
    return FilterBank(filters, n)


class SimulatedDreamer:
    """A seeded sleeper following ``hypnogram``; see the module docstring."""

    def __init__(
        self,
        seed: int,
        hypnogram: Hypnogram,
        *,
        block: float = 0.25,
        breath_rate: float | None = None,
        heart_rate: float | None = None,
    ) -> None:
        counts = {k: block * r for k, r in RATES.items()}
        if block <= 0 or any(abs(c - round(c)) > 1e-9 for c in counts.values()):
            raise ValueError(f"block {block} s must hold whole samples at {RATES}")
        self.hypnogram, self.block = hypnogram, block
        self._n, self._m = round(counts["eeg"]), round(counts["resp"])
        self._rng = rng = np.random.default_rng(seed)
        d = rng.random(8)  # per-dreamer traits, always drawn so given rates change nothing
        br = 8.5 + 7.0 * d[0] if breath_rate is None else breath_rate  # breaths/min in N2
        hr = 52.0 + 26.0 * d[1] if heart_rate is None else heart_rate  # bpm in N2
        if not (br > 0 and hr > 0):
            raise ValueError("breath_rate and heart_rate must be positive")
        self._w0, self._f0 = TAU * br / 60.0, hr / 60.0  # rad/s, beats/s
        self._iaf = 9.0 + 2.0 * d[2]  # individual alpha frequency, 9-11 Hz (Klimesch 1999)
        self._fsp = 12.5 + 1.5 * d[3]  # individual spindle frequency 12.5-14 Hz
        self._gain = 0.8 + 0.4 * d[4]  # skull/age amplitude factor
        self._phi, self._beat = TAU * d[5], TAU * d[6] - math.pi
        self._bank = bank = _bank(self._n)
        self._zi = bank.stationary_state(rng.standard_normal(bank.shape))
        self._p_next = self._params(0.0)  # stage parameters at block start
        self._ou = self._p_next[_SD : _SD + 4] * rng.standard_normal(4)
        self._c_next = self._controls(self._p_next)
        self._next = rng.exponential(60.0 / _RMAX)  # next candidate time per event kind
        self._events: list[Event] = []
        self._k = 0  # blocks generated
        self._K, self._psi, self._psi_t = 0.0, 0.0, 0.0
        keys = (*RATES, "phase")  # phase: the true breath phase at each belt sample
        self._new: dict[str, list[np.ndarray]] = {k: [] for k in keys}  # generated blocks
        self._buf = {k: np.zeros(0) for k in keys}  # generated, not yet returned
        self._given = dict.fromkeys(RATES, 0)  # samples returned so far
        self._per_block = {"eeg": self._n, "ecg": self._n, "resp": self._m}
        self._frac = np.arange(self._n) / self._n
        self._tgrid = np.arange(self._n) / RATES["eeg"]
        x = self._frac * self._m  # linear interpolation from belt to EEG/ECG sample times
        self._interp = np.maximum(0.0, 1.0 - np.abs(x[:, None] - np.arange(self._m + 1)))
        self._ou_e = np.exp(-block / np.array(_OU_TAU))
        self._ou_s = np.sqrt(1.0 - self._ou_e**2)

    def couple(self, strength: float, group_phase: float) -> None:
        """Breath entrainment: pull this dreamer's breath phase toward a shared group phase
        (Kuramoto K*sin(psi - phi), K = strength * K_MAX); strength is clipped to 0..1.
        Applies from the next generated block; within blocks the target phase advances
        at this dreamer's base breath rate until the next call."""
        self._K = K_MAX * min(max(float(strength), 0.0), 1.0)
        self._psi, self._psi_t = float(group_phase), self._k * self.block

    @property
    def breath_phase(self) -> float:
        """True breath phase (radians, 0 = end of exhale) at the next unreturned resp sample."""
        ph = self._buf["phase"]
        return float(ph[0]) if ph.size else self._phi

    def read(self, t_end: float) -> dict[str, np.ndarray]:
        """Return the new samples of each signal ("eeg", "ecg", "resp") up to time t_end
        (samples with time < t_end not yet returned)."""
        need = {k: max(math.ceil(t_end * r), self._given[k]) for k, r in RATES.items()}
        blocks = max(-(-need[k] // self._per_block[k]) for k in RATES)
        if blocks > self._k:
            while self._k < blocks:
                self._generate()
            for k, new in self._new.items():
                self._buf[k] = np.concatenate([self._buf[k], *new])
                new.clear()
        out = {}
        for k in (*RATES, "phase"):
            key = "resp" if k == "phase" else k
            cut = need[key] - self._given[key]
            out[k], self._buf[k] = self._buf[k][:cut], self._buf[k][cut:]
        self._given = need
        del out["phase"]
        return out

    def _generate(self) -> None:
        n, m, rng, fs = self._n, self._m, self._rng, RATES["eeg"]
        t0 = self._k * self.block
        t1 = t0 + self.block
        p0, p1 = self._p_next, self._params(t1)
        self._p_next = p1
        z = rng.standard_normal(8 * n + m + 4)
        # Slow Ornstein-Uhlenbeck wanders (exact discretisation): HR, breath rate and
        # depth, alpha envelope; slow controls are interpolated linearly within a block.
        self._ou = self._ou * self._ou_e + p1[_SD : _SD + 4] * self._ou_s * z[-4:]
        c0, c1 = self._c_next, self._controls(p1)
        self._c_next, dc = c1, c1 - c0
        frac = self._frac
        # EEG: stage-weighted band noise with a waxing-waning alpha envelope, then events.
        bands, self._zi = self._bank.step(self._zi, z[: 7 * n].reshape(7, n))
        eeg = c0[:6] @ bands[:6] + (dc[:6] @ bands[:6]) * frac
        rates = p0[_EV:]
        for kind in range(6):  # Poisson events by thinning at the block's stage mix
            tn = self._next[kind]
            while tn < t1:
                if rng.random() * _RMAX[kind] < rates[kind]:
                    self._spawn(kind, tn)
                tn += rng.exponential(60.0 / _RMAX[kind])
            self._next[kind] = tn
        for ev in self._events:
            i0 = max(0, math.ceil((ev.start - t0) * fs))
            i1 = min(n, math.ceil((ev.end - t0) * fs))
            if i0 < i1:
                eeg[i0:i1] += ev.wave(self._tgrid[i0:i1] + (t0 - ev.start))
        self._events = [ev for ev in self._events if ev.end > t1]
        # Breathing: dphi/dt = omega + K sin(psi - phi), Euler at the belt rate; the
        # target psi advances at this dreamer's base rate between couple() calls.
        w0, dw, w_ref = float(c0[9]), float(dc[9]) / m, self._w0
        phis, phi, dt, K = np.empty(m + 1), self._phi, self.block / m, self._K
        psi = self._psi + w_ref * (t0 - self._psi_t)
        for j in range(m):
            phis[j] = phi
            phi += dt * (w0 + dw * j + K * math.sin(psi + w_ref * j * dt - phi))
        phis[m] = phi
        self._phi = phi % TAU
        u = (self._interp @ phis) * (1.0 / TAU) % 1.0
        # Warp the phase so that inhale (u < Ti/Ttot) is shorter than exhale: the two lines
        # meet at (Ti/Ttot, pi) and the lower one is the right one on either side.
        th = np.minimum(u * (math.pi / _INHALE), (u - 1.0) * (math.pi / (1 - _INHALE)) + TAU)
        slow = c0[6:9, None] + dc[6:9, None] * frac  # heart rate (Hz), RSA, breath depth
        belt = -np.cos(th) * slow[2]
        # Heart: rate with stage factor, slow drift and RSA (faster on inhale).
        beat = (slow[0] * (1.0 + slow[1] * np.sin(th))).cumsum() * (TAU / fs) + self._beat
        self._beat = float(beat[-1] % TAU)
        ecg = np.interp(beat % TAU, _ECG_GRID, _ECG_WAVE) * (1.0 + 0.05 * belt)
        ecg += 0.03 * bands[6] + 0.04 * belt + 0.008 * z[7 * n : 8 * n]
        resp = belt[:: n // m] + 0.02 * z[8 * n : 8 * n + m]
        new = self._new
        new["eeg"].append(eeg * self._gain)
        new["ecg"].append(ecg)
        new["resp"].append(resp)
        new["phase"].append(phis[:m] % TAU)
        self._k += 1

    def _controls(self, p: np.ndarray) -> np.ndarray:
        """Slow controls from stage parameters and wanders: EEG band gains (6), heart rate
        (Hz), RSA depth, breath depth, breath angular rate (rad/s)."""
        hrv, brv, bav, alv = self._ou
        c = np.empty(10)
        c[:6] = p[:6]
        c[3] *= math.exp(alv)
        c[6:] = (self._f0 * p[_HR] * math.exp(hrv), p[_RSA], math.exp(bav), self._w0 * p[_BR])
        c[9] *= math.exp(brv)
        return c

    def _params(self, t: float) -> np.ndarray:
        """Stage-mixed parameter row at time t (cheap away from stage boundaries)."""
        h, times = 0.5 * self.hypnogram.transition, self.hypnogram.times
        i = bisect_right(times, t - h)
        if i == bisect_right(times, t + h):
            return _TABLE[STAGE_INDEX[self.hypnogram.stages[max(i - 1, 0)]]]
        return self.hypnogram.weights(t) @ _TABLE

    def _spawn(self, kind: int, t: float) -> None:
        lo, hi = RANGES[kind, :, 0], RANGES[kind, :, 1]
        p = lo + (hi - lo) * self._rng.random(4)
        if kind in (SPINDLE, ALPHA):
            p[2] += self._fsp if kind == SPINDLE else self._iaf
        ev = Event(kind, t, p)
        self._events.append(ev)
        if kind == KC and self._rng.random() < 0.3:  # K-complexes often lead into a spindle
            self._spawn(SPINDLE, ev.end - 0.2)
