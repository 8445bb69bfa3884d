"""What the rig hears, every frame: levels, bands, a spectrum, onsets, beat and tempo.

Levels and bands come from numpy: RMS and peak of the frame's samples, and the power of
a Hann-windowed FFT over the latest `WINDOW` samples summed into bands. Bands are given
as 0..1 for -60..0 dBFS (a full-scale sine in the band reads 1), which is how a VJ
hears loudness; RMS and peak are linear amplitude (full scale 1).

Onsets, beats and tempo come from aubio (the maintained `aubio-ledfx` build): its
onset detector and beat tracker run in hops of `HOP` samples as the frames feed them.
Both report times with their own detection delay taken out, so `onset_time` is when
the sound started, while `onset` is 1 on the frame that first knows it.
"""

from __future__ import annotations

import collections
import itertools
import math
from dataclasses import dataclass

import aubio
import numpy as np

from engine.params import ParamSpec

HOP = 256  # samples per aubio step (5.3 ms at 48 kHz)
WINDOW = 2048  # samples for the FFT bands and aubio's analysis window
FLOOR_DB = -60.0  # a band at or below this reads 0
# aubio drops an onset when the hop it is reported in (two hops after the attack) is
# quieter than its silence gate: the tail of a short hit in a digital file is exactly 0,
# so no gate (-inf); a quiet input still gives no onsets, its peak picker sees no rise
SILENCE_DB = -math.inf
# ...but with no gate aubio reports an onset at the start of any input: an onset whose
# samples (from its time to now) are digital silence is no onset
SILENT = 1e-6
BANDS: tuple[tuple[str, float, float, str], ...] = (
    ("bass", 20.0, 150.0, "kick, bass"),
    ("low_mid", 150.0, 500.0, "body of voices and instruments"),
    ("mid", 500.0, 2000.0, "presence"),
    ("high", 2000.0, 16000.0, "hats, cymbals, air"),
)
SPECTRUM_RANGE = (30.0, 16000.0)  # Hz, split into N log-spaced bands


def audio_in_params(bands: int) -> tuple[ParamSpec, ...]:
    """/audio/in/*: read-only outputs the show publishes every frame."""
    p = "/audio/in"
    db = "0..1 for -60..0 dBFS"
    specs = [
        ParamSpec(f"{p}/rms", 0.0, unit="FS", doc="RMS level of the frame", access="r"),
        ParamSpec(f"{p}/peak", 0.0, unit="FS", doc="peak level of the frame", access="r"),
        *(
            ParamSpec(f"{p}/{name}", 0.0, doc=f"{lo:g}-{hi:g} Hz ({what}), {db}", access="r")
            for name, lo, hi, what in BANDS
        ),
        ParamSpec(f"{p}/onset", 0.0, kind="bool", doc="1 on a frame with an onset", access="r"),
        ParamSpec(f"{p}/beat", 0.0, kind="bool", doc="1 on a frame with a beat", access="r"),
        ParamSpec(f"{p}/bpm", 120.0, 20.0, 300.0, unit="BPM", doc="tempo of the music", access="r"),
        ParamSpec(f"{p}/phase", 0.0, unit="beat", doc="phase within the music's beat", access="r"),
        ParamSpec(f"{p}/confidence", 0.0, doc="how sure the beat tracker is", access="r"),
    ]
    edges = spectrum_edges(bands)
    for k in range(bands):
        lo, hi = edges[k], edges[k + 1]
        doc = f"band {k + 1} of {bands}: {lo:.0f}-{hi:.0f} Hz, {db}"
        specs.append(ParamSpec(f"{p}/spectrum/{k + 1}", 0.0, doc=doc, access="r"))
    return tuple(specs)


def spectrum_edges(bands: int) -> np.ndarray:
    lo, hi = SPECTRUM_RANGE
    return np.geomspace(lo, hi, bands + 1)


@dataclass(frozen=True, slots=True)
class Heard:
    """One frame's analysis."""

    rms: float
    peak: float
    bands: dict[str, float]  # bass, low_mid, mid, high: 0..1 (dB-scaled)
    spectrum: np.ndarray  # (N,) 0..1 (dB-scaled)
    onset: bool  # an onset was detected during this frame
    onset_time: float  # seconds into the input of the latest onset (-1: none yet)
    beat: bool  # a beat was tracked during this frame
    beat_time: float  # seconds into the input of the latest beat (-1: none yet)
    bpm: float  # 0 until the tracker has one
    phase: float  # 0..1 within the current beat
    confidence: float
    time: float  # seconds of input analysed so far

    def values(self) -> dict[str, float]:
        """The params' values, by path."""
        out = {
            "/audio/in/rms": self.rms,
            "/audio/in/peak": self.peak,
            "/audio/in/onset": float(self.onset),
            "/audio/in/beat": float(self.beat),
            "/audio/in/phase": self.phase,
            "/audio/in/confidence": self.confidence,
        }
        if self.bpm > 0:
            out["/audio/in/bpm"] = self.bpm
        out.update({f"/audio/in/{k}": v for k, v in self.bands.items()})
        out.update({f"/audio/in/spectrum/{k + 1}": float(v) for k, v in enumerate(self.spectrum)})
        return out


def _db_unit(power: np.ndarray) -> np.ndarray:
    """Mean-square amplitude -> 0..1 for FLOOR_DB..0 dBFS (a full-scale sine is 0 dB)."""
    db = 10.0 * np.log10(np.maximum(2.0 * power, 1e-20))
    return np.clip(1.0 - db / FLOOR_DB, 0.0, 1.0)


class Analysis:
    """Feed it each frame's mono samples; it answers what was heard in them."""

    def __init__(self, sr: int, bands: int = 16) -> None:
        self.sr = sr
        self._window = np.zeros(WINDOW, np.float32)  # the latest samples, oldest first
        self._carry = np.zeros(0, np.float32)  # samples short of a full hop
        self._hann = np.hanning(WINDOW).astype(np.float32)
        # Parseval with the window: a bin's |X|^2 -> that component's mean-square amplitude
        self._norm = 2.0 / (WINDOW * float(np.sum(self._hann**2)))
        freqs = np.fft.rfftfreq(WINDOW, 1.0 / sr)
        self._masks = {name: (freqs >= lo) & (freqs < min(hi, sr / 2)) for name, lo, hi, _ in BANDS}
        edges = spectrum_edges(bands)
        # each spectrum band gets at least its nearest bin, so low bands are never empty
        self._spectrum_bins = [
            np.flatnonzero((freqs >= lo) & (freqs < hi))
            if np.any((freqs >= lo) & (freqs < hi))
            else np.array([int(np.argmin(np.abs(freqs - math.sqrt(lo * hi))))])
            for lo, hi in itertools.pairwise(edges)
        ]
        self._onset = aubio.onset("default", WINDOW // 2, HOP, sr)
        self._onset.set_silence(SILENCE_DB)
        self._tempo = aubio.tempo("default", WINDOW // 2, HOP, sr)
        self._tempo.set_silence(SILENCE_DB)
        self._samples = 0  # fed to aubio so far
        self._peaks: collections.deque[tuple[int, float]] = collections.deque(maxlen=16)
        self._onset_time = -1.0
        self._beat_time = -1.0

    @property
    def time(self) -> float:
        return self._samples / self.sr

    def feed(self, mono: np.ndarray) -> Heard:
        x = np.nan_to_num(np.asarray(mono, np.float32).ravel())
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if x.size >= WINDOW:
            self._window[:] = x[-WINDOW:]
        elif x.size:
            self._window = np.concatenate((self._window[x.size :], x))
        power = np.abs(np.fft.rfft(self._window * self._hann)) ** 2 * self._norm
        bands = {
            name: float(_db_unit(np.array(power[mask].sum()))) for name, mask in self._masks.items()
        }
        spectrum = _db_unit(np.array([power[b].sum() for b in self._spectrum_bins]))
        onset, beat = self._track(x)
        bpm = float(self._tempo.get_bpm())
        phase = 0.0
        if bpm > 0 and self._beat_time >= 0:
            phase = ((self.time - self._beat_time) * bpm / 60.0) % 1.0
        return Heard(
            rms=rms,
            peak=peak,
            bands=bands,
            spectrum=spectrum,
            onset=onset,
            onset_time=self._onset_time,
            beat=beat,
            beat_time=self._beat_time,
            bpm=bpm,
            phase=phase,
            confidence=float(self._tempo.get_confidence()),
            time=self.time,
        )

    def _track(self, x: np.ndarray) -> tuple[bool, bool]:
        """aubio in whole hops; what is left waits for the next frame."""
        data = np.concatenate((self._carry, x)) if self._carry.size else x
        onset = beat = False
        n = data.size // HOP * HOP
        for k in range(0, n, HOP):
            hop = np.ascontiguousarray(data[k : k + HOP])
            self._peaks.append((self._samples, float(np.max(np.abs(hop)))))
            self._samples += HOP
            if self._onset(hop)[0] and self._heard_since(int(self._onset.get_last())):
                onset = True
                self._onset_time = float(self._onset.get_last_s())
            if self._tempo(hop)[0]:
                beat = True
                self._beat_time = float(self._tempo.get_last_s())
        self._carry = data[n:].copy()
        return onset, beat

    def _heard_since(self, sample: int) -> bool:
        return any(peak > SILENT for start, peak in self._peaks if start + HOP > sample)
