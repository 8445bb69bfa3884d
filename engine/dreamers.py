"""A dreamer: one person's signals, features, params, layer and voice.

A dreamer pulls samples from its source into ring buffers, analyses them on a
fixed schedule (10 times a second, staggered across dreamers so no frame pays for
all of them), and smooths the results every frame into the values its layer
shader and voice read. In "raw" drive the layer gets the signals themselves with
nothing enhanced beyond smoothing; in "features" drive the band shares are also
stretched against the dreamer's own recent range, so a quiet sleeper still moves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from engine.dreamer_params import BANDS, FEATURE_OUTPUTS, LAYER_OUTPUTS, dreamer_params
from engine.features import (
    FeatureSet,
    beat_pulse,
    combine_bands,
    compute_features,
    signal_problem,
)
from engine.params import ParamSpace
from engine.sources.simulate import RATES
from engine.stage import StageEpoch, Stager
from engine.visuals.layers import SIGNAL_WIDTH

ANALYSIS_RATE = 10.0  # feature updates per second per dreamer
WINDOWS = {"eeg": 4.0, "ecg": 8.0, "resp": 30.0, "ppg": 8.0}  # seconds each analysis reads
SCOPE_SECONDS = 2.0  # how much raw signal a layer shader sees through signal()
# rough physiological full scales, so raw signals reach shaders at about -1..1
SIGNAL_SCALE = {"eeg": 100.0, "ecg": 1.5}
# a pentatonic spread of voice pitches (semitones above the root), so a crowd is a chord
PENTATONIC = (0, 3, 5, 7, 10, 12, 15, 17, 19, 22, 24, 27)
ROOT_HZ = 55.0


def _run_on(f: FeatureSet, breath_lag: float, heart_lag: float) -> FeatureSet:
    """Features of windows that ended `lag` seconds ago, brought to now: the breath
    runs on at its rate, the last beat is that much older."""
    phase = f.breath_phase + 2 * math.pi * f.breath_rate / 60.0 * breath_lag
    changes: dict[str, float] = {"breath_phase": phase % (2 * math.pi)}
    if f.last_beat_age is not None:
        age = f.last_beat_age + heart_lag
        changes.update(last_beat_age=age, beat=beat_pulse(age))
    return replace(f, **changes)  # type: ignore[arg-type]


class Source(Protocol):
    """Where a dreamer's samples come from: a simulator, a recording, the network."""

    def read(self, t_end: float) -> dict[str, np.ndarray]: ...


class Ring:
    """The last `size` samples of a signal, contiguous, without reallocating."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = np.zeros(2 * size)
        self._end = size  # data lives in _buf[_end - size:_end]
        self.filled = 0
        self.total = 0  # samples ever given, so a source's sample index can be placed

    def extend(self, x: np.ndarray) -> None:
        self.total += len(x)
        x = x[-self.size :]
        n = len(x)
        if self._end + n > len(self._buf):
            self._buf[: self.size] = self._buf[self._end - self.size : self._end]
            self._end = self.size
        self._buf[self._end : self._end + n] = x
        self._end += n
        self.filled = min(self.size, self.filled + n)

    def last(self, n: int | None = None) -> np.ndarray:
        n = self.filled if n is None else min(n, self.filled)
        return self._buf[self._end - n : self._end]


@dataclass(slots=True)
class _Running:
    """Slow running mean/variance for the "features" drive's auto-range."""

    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def stretch(self, x: float, rate: float) -> float:
        if self.n == 0:
            self.mean, self.var = x, 1e-4
        self.n += 1
        self.mean += rate * (x - self.mean)
        self.var += rate * ((x - self.mean) ** 2 - self.var)
        z = (x - self.mean) / math.sqrt(self.var + 1e-6)
        return 1.0 / (1.0 + math.exp(-1.6 * z))


class Dreamer:
    def __init__(
        self,
        index: int,
        *,
        seed: int,
        source: Source,
        shader: str,
        patch: str,
        drive: str,
        enhance: bool,
        params: ParamSpace,
        count: int,
        time_offset: float = 0.0,
        fade: float = 2.0,
    ) -> None:
        self.index = index
        self.id = index + 1
        self.layer = index  # its image's layer in the array, and its slot in the merge
        self.time_offset = time_offset  # source time at show time 0 (history before the show)
        self.path = f"/dreamer/{self.id}"
        self.shader, self.patch, self.drive, self.enhance = shader, patch, drive, enhance
        self.seed = seed
        self.params = params
        self.source = source
        self.rates = {k: v for k, v in getattr(source, "rates", RATES).items() if k in WINDOWS}
        self.rings = {k: Ring(int(WINDOWS[k] * fs)) for k, fs in self.rates.items()}
        # several EEG electrodes (OpenBCI, Muse): each its own ring, bands per channel
        self.eeg_channels: list[Ring] = []
        self.eeg_combine = str(getattr(source, "eeg_combine", "mean"))
        self.reads = 0  # source reads so far
        self.on_read: Callable[[int, dict[str, np.ndarray]], None] | None = None
        # 1 while the dreamer's source speaks; fades to 0 over `fade` s when it falls silent
        self.presence = 0.0 if hasattr(source, "present") else 1.0  # network: until it speaks
        self.fade = fade
        self.stager = Stager()
        self.stage: StageEpoch | None = None  # the last scored 30-s epoch
        self.problem: str | None = None  # why the EEG is not trusted now (flat, saturated...)
        self.features = FeatureSet()
        # the smoothed features (published as /dreamer/N/*: the params are what others read)
        self._v = dict.fromkeys((name for name, *_ in (*FEATURE_OUTPUTS, *LAYER_OUTPUTS)), 0.0)
        self._v["time"] = (seed % 997) / 997.0 * 60.0  # dreamers start at different moments
        self._v["seed"] = (seed % 1000) / 1000.0
        self._running = {b: _Running() for b in BANDS}
        self._analysed_at = 0.0
        self._last_beat = -1e9
        golden = 0.6180339887498949
        for spec in dreamer_params(
            self.id,
            hue=(index * golden) % 1.0,
            pitch=ROOT_HZ * 2 ** (PENTATONIC[index % len(PENTATONIC)] / 12),
        ):
            params.register(spec)
        # homes spread over the frame on a golden-angle spiral: neighbours never share a spot
        r = math.sqrt((index + 0.5) / count) * 0.42
        a = index * 2.399963229728653
        self.home = (0.5 + r * math.cos(a), 0.5 + r * math.sin(a))
        self.publish()  # its time and seed from the start (a mapping reads them at frame 0)

    def param(self, name: str) -> float:
        return self.params.get(f"{self.path}/{name}")

    def pull(self, t: float) -> None:
        """Bring the signal buffers up to show time t."""
        got = self.source.read(t + self.time_offset)
        if self.on_read is not None:  # a live stream's reads, for the session log
            self.on_read(self.reads, got)
        self.reads += 1
        for name, samples in got.items():
            if name in self.rings and len(samples):
                if samples.ndim == 2:  # channels as columns
                    if name == "eeg":
                        self._extend_channels(samples)
                    samples = samples.mean(axis=1)
                self.rings[name].extend(samples)
                if name == "eeg":
                    scored = len(self.stager.epochs)
                    self.stager.push(samples, self.rates["eeg"])
                    if len(self.stager.epochs) > scored:
                        self.stage = self.stager.epochs[-1]
                        self.params.publish(f"{self.path}/stage", self.stage.stage)

    def _extend_channels(self, block: np.ndarray) -> None:
        if len(self.eeg_channels) != block.shape[1]:  # a new montage: start its history
            size = self.rings["eeg"].size
            self.eeg_channels = [Ring(size) for _ in range(block.shape[1])]
        for ring, column in zip(self.eeg_channels, block.T, strict=True):
            ring.extend(column)

    def _window(self, name: str) -> tuple[np.ndarray | None, float, float]:
        """A signal's analysis window, its rate, and how long ago the window ends (s).

        A looping recording has a seam where its end meets its start: a window never
        straddles it. It is the part after the seam once that is half a window long,
        and until then the part before it, which ends `lag` seconds ago."""
        ring = self.rings.get(name)
        if ring is None or ring.filled == 0:
            return None, 0.0, 0.0
        x, fs = ring.last(), self.rates[name]
        seam = getattr(self.source, "seam", None)
        start = seam(name) if callable(seam) else None
        if start is not None:
            after = ring.total - start  # samples since the seam
            if 0 < after < len(x):
                if after >= len(x) // 2:
                    return x[-after:], fs, 0.0
                return x[: len(x) - after], fs, after / fs
        return x, fs, 0.0

    def analyse(self, t: float) -> None:
        """Recompute features from the buffered windows (the 10 Hz schedule calls this)."""
        eeg, eeg_fs, _ = self._window("eeg")
        ecg, ecg_fs, ecg_lag = self._window("ecg")
        resp, resp_fs, resp_lag = self._window("resp")
        ppg, ppg_fs, ppg_lag = self._window("ppg")
        bands = None
        if self.eeg_channels and eeg is not None:
            n = len(eeg)
            bands = combine_bands([r.last(n) for r in self.eeg_channels], eeg_fs, self.eeg_combine)
            self.problem = None if bands is not None else (signal_problem(eeg) or "flat")
        else:
            self.problem = signal_problem(eeg) if eeg is not None else None
        if self.problem is not None:
            eeg = None  # a flat or saturated electrode says nothing about the dreamer
            bands = None
        features = compute_features(
            eeg, eeg_fs, ecg, ecg_fs, resp, resp_fs, ppg=ppg, ppg_fs=ppg_fs, eeg_bands=bands
        )
        if resp_lag > 0 or ecg_lag > 0 or ppg_lag > 0:  # a window that ended at a seam
            features = _run_on(features, resp_lag, ecg_lag if ecg is not None else ppg_lag)
        if self.problem is not None:  # keep the last good band shares, trust them less
            previous = {b: getattr(self.features, b) for b in BANDS}
            features = replace(features, quality=0.0, **previous)
        # what an app computed itself (Mind Monitor's band powers, its electrode fit)
        bands = getattr(self.source, "bands", None)
        quality = getattr(self.source, "quality", None)
        if bands and eeg is None:
            features = replace(features, **{b: bands.get(b, 0.0) for b in BANDS})
        if quality is not None:
            features = replace(features, quality=quality)
        self.features = features
        if self.stage is None and features.stage:
            # until the first 30-s epoch is scored, the 4-s guess from the band shares
            self.params.publish(f"{self.path}/stage", features.stage)
        if self.features.last_beat_age is not None:
            self._last_beat = t - self.features.last_beat_age
        self._analysed_at = t

    def step(self, t: float, dt: float) -> None:
        """Smooth the latest features into this frame's values."""
        present = getattr(self.source, "present", None)
        target = 1.0 if present is None or present(t + self.time_offset) else 0.0
        if self.fade > 0 and dt > 0:
            step = dt / self.fade
            self.presence += max(-step, min(step, target - self.presence))
        elif dt > 0 or present is None:
            self.presence = target
        f = self.features
        k = 1.0 - math.exp(-dt / 0.4) if dt > 0 else 1.0
        v = self._v
        for b in BANDS:
            x = getattr(f, b)
            if self.enhance and self.drive == "features":
                x = self._running[b].stretch(x, dt / 20.0 if dt > 0 else 1.0)
            v[b] += (x - v[b]) * k
        v["arousal"] += (f.arousal - v["arousal"]) * k
        v["quality"] += (f.quality - v["quality"]) * k
        v["depth"] = 1.0 - v["arousal"]
        v["heart"] += (f.heart_bpm - v["heart"]) * k
        v["breath_rate"] += (f.breath_rate - v["breath_rate"]) * k
        if self.drive == "raw":
            # nothing derived: the newest samples themselves, lightly smoothed
            v["beat"] += (self._scaled("ecg", 8).max(initial=0.0) - v["beat"]) * 0.5
            resp = self._scaled("resp", 4)
            level = 0.5 + 0.5 * float(resp.mean()) if len(resp) else v["breath"]
            v["breath"] += (level - v["breath"]) * 0.5
        else:
            v["beat"] = beat_pulse(t - self._last_beat)
            v["breath"] = 0.5 - 0.5 * math.cos(self.breath_phase(t))
        v["breath_phase"] = (self.breath_phase(t) / (2 * math.pi)) % 1.0
        v["presence"] = self.presence
        v["beat_age"] = min(t - self._last_beat, 60.0)
        # the layer's own clock: integrated, so a speed change never jumps the picture
        v["time"] += dt * self.param("speed")
        self.publish()

    def publish(self) -> None:
        """This frame's features as the dreamer's read-only params."""
        path, publish = self.path, self.params.publish
        for name, x in self._v.items():
            publish(f"{path}/{name}", x if math.isfinite(x) else 0.0)

    @property
    def depth(self) -> float:
        """How deeply asleep, this frame (1 - arousal, smoothed)."""
        return self._v["depth"]

    @property
    def time(self) -> float:
        """The dreamer's own time: what its layer's TIME and iTime read."""
        return self._v["time"]

    def breath_phase(self, t: float) -> float:
        """Breath phase now: the last analysis, run forward at the measured rate."""
        f = self.features
        return f.breath_phase + 2 * math.pi * f.breath_rate / 60.0 * (t - self._analysed_at)

    def _scaled(self, name: str, n: int) -> np.ndarray:
        ring = self.rings.get(name)
        if ring is None or ring.filled == 0:
            return np.zeros(0)
        x = ring.last(n)
        if name == "resp":
            ref = self.rings["resp"].last()
            return (x - ref.mean()) / (3 * ref.std() + 1e-9)
        return np.clip(x / SIGNAL_SCALE[name], -1.0, 1.0)

    def signal_rows(self) -> np.ndarray:
        """(3, SIGNAL_WIDTH): the last SCOPE_SECONDS of eeg, ecg, resp at about -1..1."""
        out = np.zeros((3, SIGNAL_WIDTH), np.float32)
        for row, name in enumerate(("eeg", "ecg", "resp")):
            if name not in self.rates:
                continue
            n = int(SCOPE_SECONDS * self.rates[name])
            x = self._scaled(name, n)
            if len(x) >= 2:
                src = np.linspace(0.0, 1.0, len(x))
                out[row] = np.interp(np.linspace(0.0, 1.0, SIGNAL_WIDTH), src, x)
        return out

    def audio_controls(self) -> dict[str, float]:
        v = self._v
        return {
            "amp": v["breath"],
            "breath_phase": v["breath_phase"],
            "alpha": v["alpha"],
            "theta": v["theta"],
            "delta": v["delta"],
            "heart_bpm": v["heart"] if v["heart"] > 0 else 60.0,
            "arousal": v["arousal"],
            "pitch": self.param("pitch"),
        }
